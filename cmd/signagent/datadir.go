package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/ledger"
)

// lockPatience is how long a command waits for a short command (retry)
// holding the data directory; an agent holding it is never waited for.
const lockPatience = 10 * time.Second

// lockDataDir takes the exclusive lock of cfg's data directory for command.
func lockDataDir(ctx context.Context, cfg *config.Config, command string) (*datadir.Lock, error) {
	return datadir.Acquire(ctx, cfg.DataDir, command, lockPatience)
}

func ledgerPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "ledger.db") }

// ledgerStart is what run records once it has opened the ledger: nothing
// for an existing ledger, else how the new one came to be.
type ledgerStart struct {
	kind, detail string // ledger.Event*; kind "" for an existing ledger
}

// checkLedger decides, before the ledger is opened (and so created),
// whether run may go on. A missing or empty ledger in a data directory that
// shows earlier use is refused unless newLedger is set: a new ledger would
// not know what was signed, and would sign it again. The caller holds the
// data directory's lock.
func checkLedger(cfg *config.Config, cfgPath string, newLedger bool) (ledgerStart, error) {
	path := ledgerPath(cfg)
	missing, err := ledger.Missing(path)
	if err != nil {
		return ledgerStart{}, err
	}
	if !missing {
		if newLedger {
			return ledgerStart{}, usageError{msg: fmt.Sprintf("--new-ledger: the ledger %s exists and is kept\n"+
				"hint: run without --new-ledger; to discard that ledger, stop the service and move it aside first", path)}
		}
		return ledgerStart{}, nil
	}
	evidence := datadir.Evidence(cfg)
	switch {
	case len(evidence) > 0 && !newLedger:
		var b strings.Builder
		fmt.Fprintf(&b, "no ledger at %s (missing or empty), but this data directory and its folders were used before:\n", path)
		for _, ev := range evidence {
			fmt.Fprintf(&b, "  %s\n", ev)
		}
		b.WriteString("a new ledger would not know what was already signed, and would sign it again\n")
		if ledger.LatestBackup(ledger.BackupDir(path)) != "" {
			fmt.Fprintf(&b, "hint: %s\n", ledger.RestoreHint(path))
			b.WriteString("hint: or, knowingly, ")
		} else {
			b.WriteString("hint: ")
		}
		fmt.Fprintf(&b, "start a new ledger, which records this: signagent run --config %s --new-ledger", cfgPath)
		return ledgerStart{}, usageError{msg: b.String()}
	case newLedger:
		detail := "requested with --new-ledger; no earlier use found"
		if len(evidence) > 0 {
			detail = "requested with --new-ledger; earlier use: " + strings.Join(evidence, "; ")
		}
		if moved := setAsideLeftovers(path); moved != "" {
			detail += "; set aside: " + moved
		}
		return ledgerStart{kind: ledger.EventNewLedger, detail: detail}, nil
	}
	return ledgerStart{kind: ledger.EventCreated}, nil
}

// setAsideLeftovers renames the write-ahead log and index of a ledger that
// is gone, so SQLite does not replay them into the new one; they are kept
// for inspection. It returns what it moved.
func setAsideLeftovers(path string) string {
	var moved []string
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, suffix := range []string{"-wal", "-shm"} {
		p := path + suffix
		if _, err := os.Stat(p); err == nil {
			to := p + ".orphaned-" + stamp
			if os.Rename(p, to) == nil {
				moved = append(moved, to)
			}
		}
	}
	return strings.Join(moved, ", ")
}

// openExistingLedger opens the ledger for a command that must not create
// one (status, retry).
func openExistingLedger(cfg *config.Config) (*ledger.DB, error) {
	return ledger.OpenExisting(ledgerPath(cfg))
}

// lockedHint is the next step for a command refused by the lock.
func lockedHint(le *datadir.LockedError) string {
	if le.Command != "" && le.Command != datadir.CommandRun {
		return "wait for it to finish, then try again"
	}
	return "stop the other agent first (signagent stop, or end that process), or give this configuration its own data_dir"
}
