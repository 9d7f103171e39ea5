//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReload: a reload validates the configuration first — a bad file is
// refused (by `signagent reload` with exit 2, and by the agent itself on a
// bare SIGHUP, which logs the problem and keeps running) — and a good one
// drains the agent and runs it on the new configuration in the same
// process: a folder added to the file is watched and signed into.
func TestReload(t *testing.T) {
	l := newLayout(t, `listen = "off"`)
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	waitFor(t, "agent started", func() bool { return strings.Contains(logs.String(), "agent started") })
	drop := func(dir, name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("document "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signed := func(dir, name string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, name+".p7s")); return err == nil }
	}
	drop(l.inbox, "a.txt")
	waitFor(t, "a.txt signed", signed(l.outbox, "a.txt"))

	// A bad file: the command refuses it, and so does the agent on SIGHUP.
	good, _ := os.ReadFile(l.cfg)
	if err := os.WriteFile(l.cfg, append(append([]byte{}, good...), "bogus_key = 1\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, nil, "reload", "--config", l.cfg); code != 2 || !strings.Contains(stderr, "bogus_key") {
		t.Errorf("reload of a bad file: exit %d, stderr %q", code, stderr)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad reload refused", func() bool { return strings.Contains(logs.String(), "reload refused") })
	drop(l.inbox, "b.txt")
	waitFor(t, "b.txt signed on the old configuration", signed(l.outbox, "b.txt"))

	// A good file with a second folder.
	in2, out2 := filepath.Join(l.dir, "inbox2"), filepath.Join(l.dir, "outbox2")
	for _, d := range []string{in2, out2, filepath.Join(l.dir, "error2")} {
		os.MkdirAll(d, 0o755)
	}
	second := fmt.Sprintf(`
[[folders]]
name = "credit"
inbox = %q
outbox = %q
error = %q
include = ["*.txt"]
settle = "100ms"
scan_interval = "500ms"
`, in2, out2, filepath.Join(l.dir, "error2"))
	if err := os.WriteFile(l.cfg, append(append([]byte{}, good...), second...), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCmd(t, nil, "reload", "--config", l.cfg); code != 0 || !strings.Contains(stdout, "asked the agent") {
		t.Fatalf("reload: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	waitFor(t, "reloaded", func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	drop(in2, "c.txt")
	drop(l.inbox, "d.txt")
	waitFor(t, "c.txt signed in the new folder", signed(out2, "c.txt"))
	waitFor(t, "d.txt signed in the first folder", signed(l.outbox, "d.txt"))
	if code := stop(); code != 0 {
		t.Errorf("exit %d after a clean stop", code)
	}
}
