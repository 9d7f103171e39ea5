package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/ledger"
)

// buildBinary builds signagent into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signagent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestSecondAgentOnOneDataDirExits runs the agent as a real process, then a
// second one on the same configuration: it must exit 2 at once, naming the
// first. Read-only commands and retry keep working meanwhile, and the lock
// goes with the process, however it ends.
func TestSecondAgentOnOneDataDirExits(t *testing.T) {
	bin := buildBinary(t)
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	var logs lockedBuffer
	first := exec.Command(bin, "run", "--config", l.cfg)
	first.Stdout, first.Stderr = &logs, &logs
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), corpusPDF(t), 0o644)
	waitFor(t, "the first agent to publish", func() bool { return len(listFiles(l.outbox)) == 1 })

	began := time.Now()
	second := exec.Command(bin, "run", "--config", l.cfg)
	out, err := second.CombinedOutput()
	code := second.ProcessState.ExitCode()
	want := fmt.Sprintf("another signagent (pid %d) is using %s", first.Process.Pid, l.data)
	if code != exitUsage || !strings.Contains(string(out), want) {
		t.Errorf("second run: exit %d (%v), want %d and %q:\n%s", code, err, exitUsage, want, out)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the second run took %s to give up", d)
	}
	// In-process, too: the lock is per open file, not per process.
	if code, _, stderr := runCmd(t, nil, "run", "--config", l.cfg); code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("in-process run: exit %d\n%s", code, stderr)
	}
	if code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg); code != 0 || !strings.Contains(out, "invoices") {
		t.Errorf("status while the agent runs: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, nil, "check", "--config", l.cfg); code != 0 {
		t.Errorf("check while the agent runs: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, nil, "retry", "--config", l.cfg, "--all"); code != 0 {
		t.Errorf("retry while the agent runs: exit %d\n%s%s", code, out, stderr)
	}
	if strings.Count(logs.String(), "created the ledger") != 1 {
		t.Errorf("first agent's logs:\n%s", logs.String())
	}

	// Killed without a chance to clean up: the system drops the lock, and
	// the next agent starts over the stale name.
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	next := exec.Command(bin, "run", "--config", l.cfg)
	next.Stdout, next.Stderr = &logs, &logs
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { next.Process.Kill(); next.Wait() }()
	waitFor(t, "the next agent to hold the data directory", func() bool {
		b, _ := os.ReadFile(filepath.Join(l.data, "signagent.pid"))
		return string(b) == fmt.Sprintf("%d run\n", next.Process.Pid)
	})
	wantNext := fmt.Sprintf("another signagent (pid %d) is using", next.Process.Pid)
	if code, _, stderr := runCmd(t, nil, "run", "--config", l.cfg); code != exitUsage || !strings.Contains(stderr, wantNext) {
		t.Errorf("run beside the next agent: exit %d\n%s", code, stderr)
	}
	next.Process.Signal(syscall.SIGTERM)
	if err := next.Wait(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, logs.String())
	}
	// A graceful stop releases it, name and all.
	lock, err := datadir.Acquire(context.Background(), l.data, "test", 0)
	if err != nil {
		t.Fatalf("after the agents stopped: %v", err)
	}
	lock.Release()
}

// TestRunWaitsForAShortCommand: retry, when no agent runs, holds the data
// directory, so an agent starting meanwhile waits for it rather than
// running beside it.
func TestRunWaitsForAShortCommand(t *testing.T) {
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	held, err := datadir.Acquire(context.Background(), l.data, "retry", 0)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Release()
		close(released)
	}()
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	waitFor(t, "the agent", func() bool { return strings.Contains(logs.String(), "msg=reconciled") })
	select {
	case <-released:
	default:
		t.Error("the agent started while retry held the data directory")
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d\n%s", code, logs.String())
	}
}

// useDataDir runs the agent once over one document, so the data directory
// and folders show use: a published file, an archived original, the
// development keys, a ledger backup.
func useDataDir(t *testing.T) *layout {
	t.Helper()
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), corpusPDF(t), 0o644)
	waitFor(t, "published", func() bool { return len(listFiles(l.outbox)) == 1 })
	waitFor(t, "archived", func() bool { return len(listFiles(l.archive)) == 1 })
	waitFor(t, "a ledger backup", func() bool { return ledger.LatestBackup(filepath.Join(l.data, "backups")) != "" })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, logs.String())
	}
	return l
}

// TestRunRefusesToRecreateALostLedger: a deleted or zeroed ledger in a used
// data directory stops run (exit 2) with the evidence and the ways forward;
// --new-ledger starts a new one and records why; the document signed
// before is not signed again meanwhile.
func TestRunRefusesToRecreateALostLedger(t *testing.T) {
	l := useDataDir(t)
	path := filepath.Join(l.data, "ledger.db")
	backup := ledger.LatestBackup(filepath.Join(l.data, "backups"))
	for _, lose := range []struct {
		name string
		do   func()
	}{
		{"zeroed", func() { os.Truncate(path, 0) }},
		{"deleted", func() { os.Remove(path) }},
	} {
		lose.do()
		// The same document dropped again must not be signed again.
		os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), corpusPDF(t), 0o644)
		code, _, stderr := runCmd(t, nil, "run", "--config", l.cfg)
		for _, want := range []string{"no ledger at " + path, filepath.Join(l.data, "dev") + " holds the development",
			l.outbox + " holds published files", l.archive + " holds archived originals", "the latest " + backup,
			"would sign it again", "hint: restore the latest backup, " + backup, "copy the backup to " + path,
			"--config " + l.cfg + " --new-ledger"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q", lose.name, want)
			}
		}
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d", lose.name, code, exitUsage)
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr)
		}
		if missing, _ := ledger.Missing(path); !missing {
			t.Errorf("%s: a ledger was created", lose.name)
		}
		// status and retry never create one either.
		if code, _, stderr := runCmd(t, nil, "status", "--config", l.cfg); code != exitFailure || !strings.Contains(stderr, "no ledger at") {
			t.Errorf("%s: status: exit %d\n%s", lose.name, code, stderr)
		}
		if code, _, stderr := runCmd(t, nil, "retry", "--config", l.cfg, "--all"); code != exitFailure || !strings.Contains(stderr, "no ledger at") {
			t.Errorf("%s: retry: exit %d\n%s", lose.name, code, stderr)
		}
		if missing, _ := ledger.Missing(path); !missing {
			t.Errorf("%s: status or retry created a ledger", lose.name)
		}
	}
	if out := listFiles(l.outbox); len(out) != 1 {
		t.Errorf("outbox: %v", out)
	}

	// The way forward: a new ledger, on purpose, recorded.
	os.Remove(filepath.Join(l.inbox, "inv.pdf"))
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs, "--new-ledger")
	waitFor(t, "the agent on a new ledger", func() bool { return strings.Contains(logs.String(), "msg=reconciled") })
	if !strings.Contains(logs.String(), "started a new ledger") {
		t.Errorf("no warning about the new ledger:\n%s", logs.String())
	}
	if code := stop(); code != 0 {
		t.Fatalf("run --new-ledger: exit %d\n%s", code, logs.String())
	}
	db, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Events(context.Background())
	db.Close()
	if err != nil || len(evs) != 1 || evs[0].Kind != ledger.EventNewLedger ||
		!strings.Contains(evs[0].Detail, "--new-ledger") || !strings.Contains(evs[0].Detail, l.outbox+" holds published files") {
		t.Errorf("events %+v, %v", evs, err)
	}
	// From then on, a plain run; --new-ledger over a ledger is refused.
	if code, _, stderr := runCmd(t, nil, "run", "--config", l.cfg, "--new-ledger"); code != exitUsage || !strings.Contains(stderr, "exists and is kept") {
		t.Errorf("--new-ledger over a ledger: exit %d\n%s", code, stderr)
	}
	logs = &lockedBuffer{}
	stop = startAgent(t, l, nil, logs)
	waitFor(t, "the agent", func() bool { return strings.Contains(logs.String(), "msg=reconciled") })
	if code := stop(); code != 0 {
		t.Errorf("run after --new-ledger: exit %d\n%s", code, logs.String())
	}
}

// TestFirstRunCreatesTheLedger: an unused data directory needs no flag, and
// the creation is recorded.
func TestFirstRunCreatesTheLedger(t *testing.T) {
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	waitFor(t, "the agent", func() bool { return strings.Contains(logs.String(), "msg=reconciled") })
	waitFor(t, "a backup at start", func() bool { return ledger.LatestBackup(filepath.Join(l.data, "backups")) != "" })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, logs.String())
	}
	db, err := ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if evs, err := db.Events(context.Background()); err != nil || len(evs) != 1 || evs[0].Kind != ledger.EventCreated {
		t.Errorf("events %+v, %v", evs, err)
	}
}

// TestDamagedLedgerNamesTheBackup: a ledger that is not an SQLite database
// stops run and status with a hint naming the latest backup.
func TestDamagedLedgerNamesTheBackup(t *testing.T) {
	l := useDataDir(t)
	path := filepath.Join(l.data, "ledger.db")
	backup := ledger.LatestBackup(filepath.Join(l.data, "backups"))
	os.WriteFile(path, []byte(strings.Repeat("this is no database\n", 300)), 0o600)
	for _, cmd := range []string{"run", "status"} {
		code, _, stderr := runCmd(t, nil, cmd, "--config", l.cfg)
		if code != exitFailure || !strings.Contains(stderr, "is damaged") ||
			!strings.Contains(stderr, "hint: restore the latest backup, "+backup) || !strings.Contains(stderr, "stop the service") {
			t.Errorf("%s: exit %d\n%s", cmd, code, stderr)
		}
	}
}
