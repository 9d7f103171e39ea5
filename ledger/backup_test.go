package ledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func TestBackupIsAConsistentCopyAndRotates(t *testing.T) {
	db, path := openTest(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), step: time.Hour}
	db.Now = clock.Now
	dir := BackupDir(path)
	var made []string
	for i := range 5 {
		if err := db.RecordEvent(ctx, EventCreated, "round "+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
		p, err := db.Backup(ctx, dir, 3)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, p)
	}
	for i, p := range made {
		if _, ok := backupTime(filepath.Base(p)); !ok || i > 0 && p <= made[i-1] || filepath.Dir(p) != filepath.Join(filepath.Dir(path), "backups") {
			t.Errorf("backup %s: want backups/ledger-YYYYMMDDTHHMMSSZ.db, later than %v", p, made[:i])
		}
	}
	got, err := ListBackups(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(made[2:], " ") {
		t.Errorf("kept %v, want the newest 3 %v", got, made[2:])
	}
	if LatestBackup(dir) != made[4] {
		t.Errorf("latest %s, want %s", LatestBackup(dir), made[4])
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// The newest backup opens as a ledger holding everything written before it.
	b, err := Open(made[4])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	evs, err := b.Events(ctx)
	if err != nil || len(evs) != 5 || evs[4].Detail != "round 4" || evs[0].Kind != EventCreated {
		t.Errorf("backup events %+v, %v", evs, err)
	}
	if b.Instance() != db.Instance() {
		t.Errorf("backup instance %s, ledger %s", b.Instance(), db.Instance())
	}
}

func TestBackuperBacksUpAtStartThenEveryInterval(t *testing.T) {
	db, path := openTest(t)
	dir := BackupDir(path)
	// Every reading of the clock is one interval later, so each wait is
	// over at once: Run backs up in a loop, and rotation keeps the newest 2.
	clock := &fakeClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), step: time.Hour}
	db.Now = clock.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Backuper{DB: db, Dir: dir, Interval: time.Hour, Keep: 2}).Run(ctx) }()
	first := ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		bs, _ := ListBackups(dir)
		if first == "" && len(bs) > 0 {
			first = bs[0]
		}
		if first != "" && len(bs) == 2 && bs[0] != first && bs[1] != first {
			break // at least 3 backups taken, the first rotated out
		}
		if time.Now().After(deadline) {
			t.Fatalf("backups: %v", bs)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if bs, _ := ListBackups(dir); len(bs) != 2 {
		t.Errorf("%d backups kept, want 2: %v", len(bs), bs)
	}
}

func TestBackuperSkipsStartWhenRecentBackupExists(t *testing.T) {
	db, path := openTest(t)
	dir := BackupDir(path)
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now.Add(-time.Minute) }
	recent, err := db.Backup(context.Background(), dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return now }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := (&Backuper{DB: db, Dir: dir, Interval: time.Hour, Keep: 7}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if bs, _ := ListBackups(dir); len(bs) != 1 || bs[0] != recent {
		t.Errorf("backups %v, want only %s", bs, recent)
	}
}

func TestDamagedLedgerHintNamesLatestBackup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"not a database", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("not a database at all\n", 500)), 0o600)
		}},
		{"damaged pages", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil || len(b) < 3*4096 {
				t.Fatalf("ledger of %d bytes: %v", len(b), err)
			}
			for i := 4096; i < len(b); i++ { // every page but the header's
				b[i] = 0xA5
			}
			os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t)
			ctx := context.Background()
			for range 50 {
				db.RecordEvent(ctx, EventCreated, strings.Repeat("x", 200))
			}
			if _, err := db.Backup(ctx, BackupDir(path), 7); err != nil {
				t.Fatal(err)
			}
			db.Now = func() time.Time { return time.Now().Add(time.Hour) }
			latest, err := db.Backup(ctx, BackupDir(path), 7)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
			tc.damage(t, path)

			_, err = Open(path)
			if err == nil {
				t.Fatal("a damaged ledger opened")
			}
			var se *signagent.Error
			hint := signagent.HintOf(err)
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "damaged") ||
				!strings.Contains(hint, latest) || !strings.Contains(hint, "copy the backup to "+path) ||
				!strings.Contains(hint, "stop the service") {
				t.Errorf("error %v\nhint: %s\nwant the latest backup %s named", err, hint, latest)
			}
		})
	}
}

func TestDamagedLedgerWithoutBackupHintsNewLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	os.WriteFile(path, []byte(strings.Repeat("garbage ", 1000)), 0o600)
	_, err := Open(path)
	if h := signagent.HintOf(err); err == nil || !strings.Contains(h, "--new-ledger") || !strings.Contains(h, "no backup") {
		t.Errorf("error %v, hint %q", err, h)
	}
}

func TestOpenExistingNeverCreatesALedger(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	if _, err := OpenExisting(path); !errors.Is(err, ErrNoLedger) {
		t.Errorf("missing ledger: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("OpenExisting created %s", path)
	}
	os.WriteFile(path, nil, 0o600)
	if _, err := OpenExisting(path); !errors.Is(err, ErrNoLedger) {
		t.Errorf("empty ledger: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("OpenExisting initialised an empty file")
	}
	os.Remove(path)
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = OpenExisting(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}
