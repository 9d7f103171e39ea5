// Package gctune sets the Go garbage collector for the agent's long run.
//
// The agent keeps little alive (a few megabytes: the ledger's cache, the
// watcher's pending files) and makes its garbage per document: read
// buffers, parsed PDF structure, HTTP and ZIP state. With Go's default
// (GOGC=100) it collects after every few documents: a large share of the
// CPU the agent adds to signing. A larger GC percent collects a few times
// less often; a soft memory limit keeps peak RSS where the product
// promises (under 64 MB for a 2,500-document Sign'Stash request).
package gctune

import (
	"runtime/debug"
)

const (
	// Percent is the GC percent the agent runs with (Go's default: 100).
	Percent = 400
	// Limit is the soft memory limit it runs with, in bytes.
	Limit = 32 << 20
)

// Settings says what Apply set: 0 for a value it left to the environment.
type Settings struct {
	Percent int
	Limit   int64
}

// Apply sets Percent and Limit, each unless the environment (getenv) sets
// GOGC or GOMEMLIMIT, which the Go runtime has applied already and which
// win.
func Apply(getenv func(string) string) Settings {
	var s Settings
	if getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
		s.Percent = Percent
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(Limit)
		s.Limit = Limit
	}
	return s
}
