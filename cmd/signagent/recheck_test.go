package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecheckCommand: `signagent recheck` reaches the running agent through
// the monitor file in the data directory and makes its held folders try
// again; without an agent it says so and fails.
func TestRecheckCommand(t *testing.T) {
	pdf := corpusPDF(t)
	l := newLayout(t, "")
	addr := freeAddr(t)
	writeConfig(t, l, `listen = "`+addr+`"`, "[backends.local]\ntype = \"local\"\n", "")
	if code, _, stderr := runCmd(t, nil, "recheck", "--config", l.cfg); code != exitFailure || !strings.Contains(stderr, "no running agent") {
		t.Fatalf("recheck without an agent: exit %d\n%s", code, stderr)
	}

	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	mf := filepath.Join(l.data, monitorFile)
	waitFor(t, "the monitor file", func() bool { _, err := os.Stat(mf); return err == nil })
	if fi, _ := os.Stat(mf); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", mf, fi.Mode().Perm())
	}
	// status asks the running agent.
	if code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("agent: running, pid %d, version dev, up ", os.Getpid())) || !strings.Contains(out, "(live report)") {
		t.Errorf("status beside a running agent: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, nil, "recheck", "--config", l.cfg); code != 0 || strings.TrimSpace(out) != "no folder is held" {
		t.Errorf("recheck with nothing held: exit %d %q %s", code, out, stderr)
	}

	away := l.outbox + ".unmounted"
	if err := os.Rename(l.outbox, away); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), pdf, 0o644)
	waitFor(t, "the folder held", func() bool {
		_, out, _ := runCmd(t, nil, "status", "--config", l.cfg, "--json")
		return strings.Contains(out, `"held":`)
	})
	if err := os.Rename(away, l.outbox); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, nil, "recheck", "--config", l.cfg)
	if code != 0 || !strings.Contains(out, `folder "invoices": recheck started`) {
		t.Errorf("recheck: exit %d %q %s", code, out, stderr)
	}
	waitFor(t, "published after the recheck", func() bool { _, err := os.Stat(filepath.Join(l.outbox, "inv.pdf")); return err == nil })
	if code, _, stderr := runCmd(t, nil, "recheck", "--config", l.cfg, "nope"); code != exitFailure || !strings.Contains(stderr, `folder "nope": no such folder`) {
		t.Errorf("recheck of an unknown folder: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(logs.String(), "recheck requested by an operator") {
		t.Error("the recheck is not in the agent's log")
	}
	if code := stop(); code != 0 {
		t.Errorf("run exited %d", code)
	}
	if _, err := os.Stat(mf); !os.IsNotExist(err) {
		t.Errorf("the monitor file outlives the agent: %v", err)
	}
	if code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg); code != exitFailure ||
		!strings.Contains(out, "agent: not running (last activity ") || !strings.Contains(out, "invoices") {
		t.Errorf("status without an agent: exit %d\n%s%s", code, out, stderr)
	}
}
