package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Backups are named by their UTC time, so names sort by age.
const (
	backupPrefix     = "ledger-"
	backupSuffix     = ".db"
	backupTimeFormat = "20060102T150405Z"
)

// BackupDir is where the backups of the ledger at ledgerPath are kept: the
// backups folder beside it.
func BackupDir(ledgerPath string) string {
	return filepath.Join(filepath.Dir(ledgerPath), "backups")
}

// ListBackups returns the backups in dir, oldest first.
func ListBackups(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, ok := backupTime(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LatestBackup returns the newest backup in dir, or "" if there is none.
func LatestBackup(dir string) string {
	bs, _ := ListBackups(dir)
	if len(bs) == 0 {
		return ""
	}
	return bs[len(bs)-1]
}

// backupTime parses the time in a backup's file name.
func backupTime(name string) (time.Time, bool) {
	s, ok := strings.CutPrefix(name, backupPrefix)
	if !ok {
		return time.Time{}, false
	}
	if s, ok = strings.CutSuffix(s, backupSuffix); !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(backupTimeFormat, s)
	return t, err == nil
}

// Backup writes a consistent copy of the ledger into dir, named
// ledger-YYYYMMDDTHHMMSSZ.db after DB.Now, while the ledger stays in use
// (SQLite's VACUUM INTO), then deletes all but the newest keep backups. The
// copy is written under a temporary name, synced and renamed, so a backup
// under its final name is always complete. It returns the backup's path.
func (db *DB) Backup(ctx context.Context, dir string, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("ledger: backup: %w", err)
	}
	// Leftovers of an interrupted backup; only the lock holder writes here.
	if stale, _ := filepath.Glob(filepath.Join(dir, "."+backupPrefix+"*.tmp")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	name := backupPrefix + db.Now().UTC().Format(backupTimeFormat) + backupSuffix
	path := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+".tmp")
	if _, err := db.db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("ledger: backup to %s: %w", path, err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("ledger: backup to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("ledger: backup to %s: %w", path, err)
	}
	syncDir(dir)
	if err := pruneBackups(dir, keep); err != nil {
		return path, fmt.Errorf("ledger: backup rotation in %s: %w", dir, err)
	}
	return path, nil
}

// pruneBackups deletes all but the newest keep backups in dir.
func pruneBackups(dir string, keep int) error {
	bs, err := ListBackups(dir)
	if err != nil {
		return err
	}
	for len(bs) > max(keep, 1) {
		if err := os.Remove(bs[0]); err != nil {
			return err
		}
		bs = bs[1:]
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename in dir durable where the platform allows it
// (Windows cannot open a directory for syncing; its renames are durable).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Backuper backs the ledger up on a schedule: at start, unless the newest
// backup is younger than Interval (so a service restarting in a loop does
// not rotate good backups out), then every Interval.
type Backuper struct {
	DB       *DB
	Dir      string        // where backups go; see BackupDir
	Interval time.Duration // between backups
	Keep     int           // newest backups kept; 0 disables backups
	Logger   *slog.Logger
}

// Run takes backups until ctx is done. Failures are logged and retried
// after Interval, or an hour if that is sooner.
func (b *Backuper) Run(ctx context.Context) error {
	if b.Keep <= 0 || b.Interval <= 0 {
		return nil
	}
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "backup")
	var next time.Time // the zero time: back up at once
	if latest := LatestBackup(b.Dir); latest != "" {
		if t, ok := backupTime(filepath.Base(latest)); ok {
			next = t.Add(b.Interval)
		}
	}
	for {
		wait := next.Sub(b.DB.Now())
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		path, err := b.DB.Backup(ctx, b.Dir, b.Keep)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Error("ledger backup failed", "err", err)
			next = b.DB.Now().Add(min(b.Interval, time.Hour))
		default:
			log.Info("ledger backed up", "backup", path, "keep", b.Keep)
			next = b.DB.Now().Add(b.Interval)
		}
	}
}
