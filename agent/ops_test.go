package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/agent"
)

// TestRecheckReleasesAHeldFolderAtOnce: with the problem fixed, "recheck
// now" publishes what waited without waiting out the hold's minute. The
// agent runs on a jumpClock, paused while the folder is held: the hold's
// wait can then only end by the recheck.
func TestRecheckReleasesAHeldFolderAtOnce(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	clock := e.jumpTime()
	defer clock.resume() // before the agent stops: its grace runs on the clock
	e.startWith(func(a *agent.Agent) { a.HoldMin, a.HoldRetry = time.Minute, time.Minute })
	e.waitFor("agent started", func() bool { return strings.Contains(e.logs.String(), "agent started") })
	if err := e.a.Recheck("invoices"); !errors.Is(err, agent.ErrNotHeld) {
		t.Errorf("Recheck of a flowing folder = %v, want ErrNotHeld", err)
	}
	if err := e.a.Recheck("nope"); !errors.Is(err, agent.ErrUnknownFolder) {
		t.Errorf("Recheck of an unknown folder = %v, want ErrUnknownFolder", err)
	}

	away := e.outbox + ".unmounted"
	must(t, os.Rename(e.outbox, away))
	heldAt := clock.Now()
	e.drop("inv.pdf", pdf)
	live := func() agent.FolderLive {
		t.Helper()
		ls, err := e.a.Live(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ls[0]
	}
	e.waitFor("folder held with its next recheck", func() bool {
		l := live()
		return l.Held && !l.NextRecheck.IsZero()
	})
	// Stop the clock, then wait until the agent waits on it again: a
	// retry that a last jump started has failed (the outbox is still
	// away) and the folder waits for its next recheck.
	clock.pause()
	if err := clock.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	l := live()
	now := clock.Now()
	if !l.Held || l.HeldSince.Before(heldAt) || l.HeldSince.After(now) {
		t.Errorf("Live = %+v, want held since between %v and %v", l, heldAt, now)
	}
	if left := l.NextRecheck.Sub(now); left < 30*time.Second || left > time.Minute {
		t.Errorf("next recheck in %v, want about a minute", left)
	}
	// Nothing else is due sooner on the agent's clock: the hold's wait
	// holds until the recheck.
	if next := clock.next(); !next.Equal(l.NextRecheck) {
		t.Errorf("the agent's next wake-up is at %v, want the recheck at %v", next, l.NextRecheck)
	}

	must(t, os.Rename(away, e.outbox))
	if exists(filepath.Join(e.outbox, "inv.pdf")) {
		t.Fatal("published before the recheck: the hold's wait did not hold")
	}
	asked := time.Now()
	if err := e.a.Recheck("invoices"); err != nil {
		t.Fatalf("Recheck: %v", err)
	}
	e.waitFor("published after the recheck", func() bool { return exists(filepath.Join(e.outbox, "inv.pdf")) })
	if d := time.Since(asked); d > 20*time.Second {
		t.Errorf("published %v after the recheck", d)
	}
	clock.resume()
	e.waitFor("hold released", func() bool {
		l := live()
		return !l.Held && l.NextRecheck.IsZero()
	})
	if !strings.Contains(e.logs.String(), "recheck requested by an operator") {
		t.Error("the recheck is not in the log")
	}
}

// TestLiveCountsTheInboxAndListsFailures: files the watcher would take
// count as waiting (not dotfiles, temp names or excluded patterns); failed
// documents are listed from their error files.
func TestLiveCountsTheInboxAndListsFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.a = &agent.Agent{Ledger: e.db, Folders: []*agent.Folder{e.folder}}
	old := time.Now().Add(-time.Hour)
	for name, mtime := range map[string]time.Time{"a.pdf": time.Now(), "sub/b.pdf": old, ".hidden.pdf": old,
		"c.pdf.tmp": old, "notes.doc": old, "d.xml": time.Now()} {
		p := filepath.Join(e.inbox, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		must(t, os.WriteFile(p, []byte("x"), 0o644))
		must(t, os.Chtimes(p, mtime, mtime))
	}
	ls, err := e.a.Live(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Not recursive: sub/b.pdf is not the folder's.
	if l := ls[0]; l.Inbox != 2 || l.InboxOldestRel == "" || l.Held || l.FailedTotal != 0 {
		t.Errorf("Live = %+v, want 2 waiting (a.pdf, d.xml), no failures", l)
	}
	e.folder.Watch.Recursive = true
	ls, _ = e.a.Live(context.Background())
	if l := ls[0]; l.Inbox != 3 || l.InboxOldestRel != "sub/b.pdf" || l.InboxOldest.Sub(old).Abs() > time.Second {
		t.Errorf("recursive Live = %+v, want 3 waiting, the oldest sub/b.pdf", l)
	}
}

// TestRetryRequeuesFailedDocuments: "retry" sends a failed document
// through again, as `signagent retry` does, and refuses paths outside the
// error folder.
func TestRetryRequeuesFailedDocuments(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.start()
	e.drop("bad.pdf", []byte("not a PDF at all\n"))
	var l agent.FolderLive
	e.waitFor("the failure listed", func() bool {
		ls, err := e.a.Live(context.Background())
		l = ls[0]
		return err == nil && l.FailedTotal == 1
	})
	f := l.Failed[0]
	if f.Rel != "bad.pdf" || f.ErrorFile != "bad.pdf.error.json" || f.Error.Code != "NOT_A_PDF" || f.Error.Hint == "" || f.Error.FailedAt.IsZero() {
		t.Errorf("failure = %+v", f)
	}

	if _, err := e.a.Retry(context.Background(), "nope"); !errors.Is(err, agent.ErrUnknownFolder) {
		t.Errorf("Retry of an unknown folder = %v", err)
	}
	for _, bad := range []string{"../inbox/x.pdf", "bad.pdf.error.json", "missing.pdf"} {
		if n, err := e.a.Retry(context.Background(), "invoices", bad); n != 0 || err == nil {
			t.Errorf("Retry(%q) = %d, %v; want a refusal", bad, n, err)
		}
	}
	// The producer exported it again, in place.
	must(t, os.WriteFile(filepath.Join(e.errDir, "bad.pdf"), pdf, 0o644))
	n, err := e.a.Retry(context.Background(), "invoices")
	if n != 1 || err != nil {
		t.Fatalf("Retry all = %d, %v", n, err)
	}
	e.waitFor("the retried document published", func() bool { return exists(filepath.Join(e.outbox, "bad.pdf")) })
	ls, _ := e.a.Live(context.Background())
	if ls[0].FailedTotal != 0 || exists(filepath.Join(e.errDir, "bad.pdf.error.json")) {
		t.Errorf("after retry: %+v", ls[0])
	}
}
