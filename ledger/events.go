package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Event kinds, stored as stable text.
const (
	// EventCreated: the agent created the ledger in an unused data directory.
	EventCreated = "created"
	// EventNewLedger: an operator started a new ledger (run --new-ledger)
	// although the data directory showed earlier use; Detail says what.
	EventNewLedger = "new_ledger"
)

// Event is one entry of the ledger's own history.
type Event struct {
	At     time.Time
	Kind   string
	Detail string
}

// RecordEvent appends an event of kind with detail.
func (db *DB) RecordEvent(ctx context.Context, kind, detail string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO events(at, kind, detail) VALUES (?, ?, ?)`, db.now(), kind, detail)
		if err != nil {
			return fmt.Errorf("ledger: record event %s: %w", kind, err)
		}
		return nil
	})
}

// Events returns the ledger's events, oldest first.
func (db *DB) Events(ctx context.Context) ([]Event, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT at, kind, detail FROM events ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("ledger: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.Kind, &e.Detail); err != nil {
			return nil, fmt.Errorf("ledger: events: %w", err)
		}
		e.At = time.Unix(0, at)
		out = append(out, e)
	}
	return out, rows.Err()
}
