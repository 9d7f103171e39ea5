package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
)

// TestUnusableFolderIsHeldNotFatal: a folder whose outbox cannot be
// created when the agent starts (here a file stands where its parent
// folder should be, as when a share is not mounted) is held; the agent
// does not exit, the other folder signs, and once the outbox can be used
// the held folder signs too, its hold cleared.
func TestUnusableFolderIsHeldNotFatal(t *testing.T) {
	pdf := corpusPDF(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "signagent.toml")
	blocked := filepath.Join(dir, "share")
	os.WriteFile(blocked, []byte("not a folder"), 0o644)
	os.MkdirAll(filepath.Join(dir, "good", "inbox"), 0o755)
	os.MkdirAll(filepath.Join(dir, "shared", "inbox"), 0o755)
	folder := func(name, root string) string {
		return fmt.Sprintf(`
[[folders]]
name = %q
inbox = %q
outbox = %q
error = %q
include = ["*.pdf"]
settle = "100ms"
scan_interval = "300ms"
max_wait = "200ms"
`, name, filepath.Join(dir, name, "inbox"), filepath.Join(root, "outbox"), filepath.Join(dir, name, "error"))
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nlisten = %q\n\n[backends.local]\ntype = \"local\"\n", filepath.Join(dir, "data"), freeAddr(t))+
		folder("good", filepath.Join(dir, "good"))+folder("shared", blocked)), 0o600)
	l := &layout{cfg: cfg, data: filepath.Join(dir, "data")}

	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logs)
		}
	})
	st := dropAndWaitHeld(t, dir, cfg, pdf)
	if f := st.Folders[1]; f.Name != "shared" || !strings.Contains(f.Held, "cannot create "+filepath.Join(blocked, "outbox")) ||
		f.NextRecheck.IsZero() || st.Folders[0].Held != "" {
		t.Errorf("report: %+v", st.Folders)
	}
	if _, err := os.Stat(filepath.Join(dir, "shared", "inbox", "b.pdf")); err != nil {
		t.Errorf("the held folder's document is not waiting in its inbox: %v", err)
	}
	code, out, stderr := runCmd(t, nil, "status", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "shared: held since ") || !strings.Contains(out, "its folders cannot be used") {
		t.Errorf("status: exit %d\n%s%s", code, out, stderr)
	}

	// The share comes back.
	os.Remove(blocked)
	os.MkdirAll(blocked, 0o755)
	if code, out, stderr := runCmd(t, nil, "recheck", "--config", cfg, "shared"); code != exitOK {
		t.Errorf("recheck: exit %d\n%s%s", code, out, stderr)
	}
	waitFor(t, "the held folder to sign", func() bool {
		_, err := os.Stat(filepath.Join(blocked, "outbox", "b.pdf"))
		return err == nil
	})
	waitStatus(t, cfg, "the hold cleared", func(st signagent.Status) bool { return len(st.Folders) == 2 && st.Folders[1].Held == "" })
	if code := stop(); code != exitOK {
		t.Errorf("run exited %d", code)
	}
}

// dropAndWaitHeld drops a document into each of the folders good and
// shared under dir, waits for good's to be signed and for `status` to show
// shared (the second folder) held, and returns that report.
func dropAndWaitHeld(t *testing.T, dir, cfg string, pdf []byte) signagent.Status {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "good", "inbox", "a.pdf"), pdf, 0o644)
	os.WriteFile(filepath.Join(dir, "shared", "inbox", "b.pdf"), uniquePDF(pdf, "b"), 0o644)
	waitFor(t, "the good folder to sign", func() bool {
		_, err := os.Stat(filepath.Join(dir, "good", "outbox", "a.pdf"))
		return err == nil
	})
	return waitStatus(t, cfg, "the shared folder held", func(st signagent.Status) bool { return len(st.Folders) == 2 && st.Folders[1].Held != "" })
}

// waitStatus waits until `status --json` answers a report for which ok
// holds, and returns it.
func waitStatus(t *testing.T, cfg, what string, ok func(signagent.Status) bool) signagent.Status {
	t.Helper()
	var st signagent.Status
	waitFor(t, what, func() bool {
		code, out, _ := runCmd(t, nil, "status", "--config", cfg, "--json")
		st = signagent.Status{}
		return code == exitOK && json.Unmarshal([]byte(out), &st) == nil && ok(st)
	})
	return st
}

// TestStopDuringStartIsNotAnError: a stop requested while the agent
// records the holds of its unusable folders at start (SIGTERM right after
// it started) does not turn into an error.
func TestStopDuringStartIsNotAnError(t *testing.T) {
	l := newLayout(t, "")
	cfg := mustLoad(t, l.cfg)
	cfg.Folders[0].Outbox = filepath.Join(l.cfg, "outbox") // under a file: unusable
	db, err := ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run, held, err := holdUnusable(ctx, cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("holdUnusable after a stop: %v", err)
	}
	if len(run.Folders) != 0 || !held.held("invoices") {
		t.Errorf("folders to run %d, held %v", len(run.Folders), held.reason)
	}
}
