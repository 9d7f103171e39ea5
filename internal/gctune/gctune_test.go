package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

// restore puts the runtime's settings back as they were before the test.
func restore(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	debug.SetGCPercent(percent)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func TestApplySetsBoth(t *testing.T) {
	restore(t)
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	s := Apply(func(string) string { return "" })
	if s != (Settings{Percent, Limit}) {
		t.Errorf("Apply = %+v", s)
	}
	if got := debug.SetGCPercent(100); got != Percent {
		t.Errorf("GC percent %d, want %d", got, Percent)
	}
	if got := debug.SetMemoryLimit(-1); got != Limit {
		t.Errorf("memory limit %d, want %d", got, Limit)
	}
}

// An operator's GOGC or GOMEMLIMIT (applied by the runtime at start) wins.
func TestApplyLeavesTheEnvironmentsChoice(t *testing.T) {
	restore(t)
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(1 << 30)
	env := map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}
	s := Apply(func(k string) string { return env[k] })
	if s != (Settings{}) {
		t.Errorf("Apply = %+v, want nothing set", s)
	}
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GC percent %d, want the environment's 50", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d, want the environment's 1 GiB", got)
	}
}
