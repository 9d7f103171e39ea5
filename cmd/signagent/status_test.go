package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
)

// TestStatusAsksTheRunningAgent: with listen = "off", `signagent status`
// reaches the agent through its socket in the data directory and shows the
// agent, each folder's state, a hold with its next recheck and the files
// waiting in the inbox. Once the agent is gone it says so from the ledger,
// shows the hold only as last recorded, and exits 1.
func TestStatusAsksTheRunningAgent(t *testing.T) {
	pdf := corpusPDF(t)
	if ln, err := listenLocal(t.TempDir()); err != nil {
		t.Skipf("no local sockets here: %v", err) // Wine
	} else {
		ln.Close()
	}
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "done_marker = true")
	if code, _, stderr := runCmd(t, nil, "status", "--config", l.cfg); code != exitFailure {
		t.Errorf("status before the first run: exit %d, want %d\n%s", code, exitFailure, stderr)
	}

	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	waitFor(t, "the monitor file", func() bool { _, err := os.Stat(filepath.Join(l.data, monitorFile)); return err == nil })
	mi, err := readMonitorFile(mustLoad(t, l.cfg))
	if err != nil || mi.URL != "unix:"+filepath.Join(l.data, socketFile) {
		t.Fatalf("monitor file: %+v %v", mi, err)
	}
	if fi, err := os.Stat(filepath.Join(l.data, socketFile)); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("socket: %v %v", fi, err)
	}

	// A file without its done marker waits in the inbox.
	os.WriteFile(filepath.Join(l.inbox, "waiting.pdf"), uniquePDF(pdf, "w"), 0o644)
	// The outbox gone, a document holds the folder.
	away := l.outbox + ".unmounted"
	if err := os.Rename(l.outbox, away); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), pdf, 0o644)
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf.done"), nil, 0o644)
	var st signagent.Status
	last := ""
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last status:\n%s\nagent log:\n%s", last, logs)
		}
	})
	waitFor(t, "the folder held, with its next recheck", func() bool {
		code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg, "--json")
		last = out + stderr
		st = signagent.Status{}
		return code == exitOK && json.Unmarshal([]byte(out), &st) == nil && len(st.Folders) == 1 &&
			st.Folders[0].Held != "" && !st.Folders[0].NextRecheck.IsZero()
	})
	f := st.Folders[0]
	if st.Agent == nil || !st.Agent.Running || st.Agent.PID != os.Getpid() || st.Agent.Version != version || st.Agent.Started.IsZero() {
		t.Errorf("agent in the live report: %+v", st.Agent)
	}
	if f.Inbox == nil || f.Inbox.Files != 1 || f.Inbox.Oldest != "waiting.pdf" || f.HeldSince.IsZero() || f.LastHold != "" {
		t.Errorf("live folder: %+v inbox %+v", f, f.Inbox)
	}
	code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, stderr)
	}
	for _, re := range []string{
		fmt.Sprintf(`(?m)^agent: running, pid %d, version %s, up \d+s \(live report\)$`, os.Getpid(), version),
		`(?m)^invoices +held +1 +`,
		`(?m)^invoices: held since \S+ \(\d+s ago\): .*outbox`,
		`(?m)^  documents wait, none is lost; next recheck at \S+ \(in \d+s\)`,
		`(?m)^invoices: waiting in the inbox: 1 file\(s\), oldest waiting\.pdf \(written \d+s ago\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status output does not match %s:\n%s", re, out)
		}
	}
	// recheck reaches the agent through the socket too.
	if code, out, stderr := runCmd(t, nil, "recheck", "--config", l.cfg); code != exitOK || !strings.Contains(out, `folder "invoices": recheck started`) {
		t.Errorf("recheck over the socket: exit %d %q %s", code, out, stderr)
	}

	if code := stop(); code != 0 {
		t.Fatalf("run exited %d\n%s", code, logs)
	}
	if _, err := os.Stat(filepath.Join(l.data, socketFile)); !os.IsNotExist(err) {
		t.Errorf("the socket outlives the agent: %v", err)
	}
	code, out, stderr = runCmd(t, nil, "status", "--config", l.cfg)
	if code != exitFailure {
		t.Errorf("status without an agent: exit %d, want %d", code, exitFailure)
	}
	if !regexp.MustCompile(`(?m)^agent: not running \(last activity \S+, \d+s ago\)`).MatchString(out) ||
		!strings.Contains(out, "invoices: last recorded hold (not current") || !strings.Contains(stderr, "no agent is running") {
		t.Errorf("status without an agent:\n%s%s", out, stderr)
	}
	if strings.Contains(out, " held ") || strings.Contains(out, "held since") || strings.Contains(out, "next recheck") {
		t.Errorf("a stale hold is shown as current:\n%s", out)
	}
	code, out, _ = runCmd(t, nil, "status", "--config", l.cfg, "--json")
	st = signagent.Status{}
	if err := json.Unmarshal([]byte(out), &st); code != exitFailure || err != nil || st.Agent == nil || st.Agent.Running ||
		st.Agent.LastActivity.IsZero() || st.Folders[0].Held != "" || st.Folders[0].LastHold == "" {
		t.Errorf("status --json without an agent: exit %d %v\n%s", code, err, out)
	}
	if strings.Contains(out, `"held"`) {
		t.Errorf("status --json presents a stale hold as current:\n%s", out)
	}
}

// TestStatusListsBatchesAwaitingDecision: a batch the ledger records as
// outcome unknown is listed by status, with the command that decides it,
// and, once decided, with the decision.
func TestStatusListsBatchesAwaitingDecision(t *testing.T) {
	l := newLayout(t, "")
	ctx := t.Context()
	db, err := ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	d := &ledger.Doc{Folder: "invoices", Rel: "a.pdf", Size: 10, ModTime: time.Now(), SHA256: "aa"}
	b := &ledger.Batch{Folder: "invoices", Backend: "local"}
	for _, err := range []error{db.AddSeen(ctx, d), db.Apply(ctx, ledger.Update{ID: d.ID, State: signagent.StateClaimed}),
		db.CreateBatch(ctx, b, []int64{d.ID}), db.MarkUnknown(ctx, b)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, out, _ := runCmd(t, nil, "status", "--config", l.cfg)
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^invoices: outcome unknown: batch %d \(%s, 1 documents\) since \S+ \(\d+s ago\): .*\n`+
		"  waits for your decision: `signagent resolve %d --resend`", b.ID, regexp.QuoteMeta(b.Ref), b.ID))
	if code != exitFailure || !want.MatchString(out) {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	if code, out, stderr := runCmd(t, nil, "resolve", "--config", l.cfg, "--fail", fmt.Sprint(b.ID)); code != exitOK {
		t.Fatalf("resolve: exit %d\n%s%s", code, out, stderr)
	}
	if _, out, _ := runCmd(t, nil, "status", "--config", l.cfg); !strings.Contains(out, "  decided: fail; the agent carries it out") {
		t.Errorf("status once decided:\n%s", out)
	}
}
