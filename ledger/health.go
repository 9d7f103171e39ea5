package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/signagent/signagent"
)

// ErrNoLedger says that there is no ledger: no file, or an empty one.
var ErrNoLedger = errors.New("no ledger")

// Missing reports whether there is no ledger at path: no file, or a file of
// zero bytes (which SQLite would silently turn into a new, empty ledger).
func Missing(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return fi.Size() == 0, nil
}

// OpenExisting opens the ledger at path like Open, but never creates one:
// it returns an error wrapping ErrNoLedger when Missing. Commands that only
// read or amend the ledger use it, so that only the agent starts a ledger.
func OpenExisting(path string) (*DB, error) {
	missing, err := Missing(path)
	if err != nil {
		return nil, err
	}
	if missing {
		return nil, signagent.LocalError(fmt.Sprintf("no ledger at %s", path),
			"check --config and data_dir; `signagent run` creates the ledger", ErrNoLedger)
	}
	return Open(path)
}

// SQLite result codes (the low byte of extended codes) that mean the file is
// not a usable database.
const (
	sqliteCorrupt = 11
	sqliteNotADB  = 26
)

// checkHealth fails with a restore hint when the file is not an SQLite
// database or SQLite's quick check finds it damaged.
func (db *DB) checkHealth(ctx context.Context) error {
	rows, err := db.db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return db.damaged(err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return db.damaged(err)
		}
		if line != "ok" && len(found) < 3 {
			found = append(found, line)
		}
	}
	if err := rows.Err(); err != nil {
		return db.damaged(err)
	}
	if len(found) > 0 {
		return db.damaged(errors.New("integrity check: " + strings.Join(found, "; ")))
	}
	return nil
}

// damaged wraps err, a failure to read the ledger file, in an error whose
// hint names the latest backup, when err says the file is damaged.
func (db *DB) damaged(err error) error {
	var se interface{ Code() int }
	if errors.As(err, &se) {
		if c := se.Code() & 0xff; c != sqliteCorrupt && c != sqliteNotADB {
			return fmt.Errorf("ledger: %s: %w", db.path, err)
		}
	}
	return signagent.LocalError(fmt.Sprintf("the ledger %s is damaged (not a readable SQLite database)", db.path),
		RestoreHint(db.path), err)
}

// RestoreHint says how to put the latest backup of the ledger at path in its
// place, or, without one, how to start a new ledger.
func RestoreHint(path string) string {
	latest := LatestBackup(BackupDir(path))
	if latest == "" {
		return fmt.Sprintf("no backup in %s: stop the service, move %s (and any %s-wal, %s-shm) aside, "+
			"then start a new ledger with `signagent run --new-ledger`", BackupDir(path), path, path, path)
	}
	return fmt.Sprintf("restore the latest backup, %s: stop the service, move %s (and any %s-wal, %s-shm) aside, "+
		"copy the backup to %s, start the service (what happened after the backup was taken is not in it)",
		latest, path, path, path, path)
}
