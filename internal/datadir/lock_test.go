package datadir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/signagent/signagent/config"
)

func TestLockIsExclusiveAndNamesItsHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	l, err := Acquire(ctx, dir, CommandRun, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = Acquire(ctx, dir, CommandRun, time.Minute)
	var le *LockedError
	want := fmt.Sprintf("another signagent (pid %d) is using %s", os.Getpid(), dir)
	if !errors.As(err, &le) || le.Command != CommandRun || err.Error() != want {
		t.Errorf("second Acquire: %v, want %q", err, want)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("an agent holding the lock was waited for (%s)", d)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, holderName)); !os.IsNotExist(err) {
		t.Errorf("the holder's name outlives the lock: %v", err)
	}
	l.Release() // twice is fine
	l, err = Acquire(ctx, dir, CommandRun, 0)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l.Release()
}

func TestShortCommandIsWaitedFor(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	retry, err := Acquire(ctx, dir, "retry", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, dir, CommandRun, 0)
	if err == nil || !strings.Contains(err.Error(), ", retry) is using") {
		t.Errorf("no patience: %v", err)
	}
	time.AfterFunc(200*time.Millisecond, func() { retry.Release() })
	l, err := Acquire(ctx, dir, CommandRun, 10*time.Second)
	if err != nil {
		t.Fatalf("with patience: %v", err)
	}
	l.Release()
}

// TestNamelessHolderIsWaitedFor: between a holder's removing its name and
// unlocking, the lock is held by no one named. A command with patience
// waits for it instead of failing at once ("another signagent (pid
// unknown)", seen in a test run when a retry released the lock).
func TestNamelessHolderIsWaitedFor(t *testing.T) {
	dir := t.TempDir()
	fl := flock.New(filepath.Join(dir, lockName))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatalf("lock: %v, %v", ok, err)
	}
	time.AfterFunc(400*time.Millisecond, func() { fl.Unlock() })
	l, err := Acquire(context.Background(), dir, CommandRun, 10*time.Second)
	if err != nil {
		t.Fatalf("with patience: %v", err)
	}
	l.Release()
}

func TestEvidence(t *testing.T) {
	root := t.TempDir()
	c := config.Default()
	c.DataDir = filepath.Join(root, "data")
	f := config.DefaultFolder()
	f.Name, f.Inbox, f.Outbox, f.Error, f.Archive = "inv", filepath.Join(root, "in"), filepath.Join(root, "out"),
		filepath.Join(root, "err"), filepath.Join(root, "arc")
	c.Folders = []*config.Folder{f}
	for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive, c.DataDir} {
		os.MkdirAll(d, 0o755)
	}
	// Fresh folders, or only our own temporary files: no evidence.
	os.MkdirAll(filepath.Join(f.Inbox, ".signagent"), 0o755)
	os.WriteFile(filepath.Join(f.Outbox, ".tmp-x.pdf"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(f.Error, "x.pdf"), []byte("x"), 0o644) // not ours without its error file
	os.WriteFile(filepath.Join(f.Inbox, "new.pdf"), []byte("x"), 0o644)
	if ev := Evidence(c); len(ev) != 0 {
		t.Errorf("fresh directories: %q", ev)
	}
	files := map[string]string{
		filepath.Join(c.DataDir, "dev", "dev.crt"):                        c.DataDir + "/dev holds the development",
		filepath.Join(c.DataDir, "backups", "ledger-20260101T000000Z.db"): "1 ledger backup(s), the latest",
		filepath.Join(c.DataDir, "ledger.db-wal"):                         "ledger.db-wal is left",
		filepath.Join(f.Inbox, ".signagent", "ab12-7.pdf"):                ".signagent holds claimed documents",
		filepath.Join(f.Outbox, "2026", "a.pdf"):                          f.Outbox + " holds published files",
		filepath.Join(f.Error, "sub", "b.pdf.error.json"):                 f.Error + " holds error files",
		filepath.Join(f.Archive, "2026", "01", "02", "a.pdf"):             f.Archive + " holds archived originals",
	}
	for p := range files {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o600)
	}
	all := strings.Join(Evidence(c), "\n")
	for _, want := range files {
		if !strings.Contains(filepath.ToSlash(all), filepath.ToSlash(want)) {
			t.Errorf("evidence lacks %q:\n%s", want, all)
		}
	}
}
