package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/signagent/signagent"
)

// Status reports the queue of each named folder. It only reads, so it works
// while the agent runs (WAL).
func (db *DB) Status(ctx context.Context, folders []string) (*signagent.Status, error) {
	now := db.Now()
	st := &signagent.Status{Time: now}
	if fi, err := os.Stat(db.path); err == nil {
		st.LedgerBytes = fi.Size()
	}
	if fi, err := os.Stat(db.path + "-wal"); err == nil {
		st.LedgerBytes += fi.Size()
	}
	for _, f := range folders {
		fs := signagent.FolderStatus{Name: f, Counts: map[signagent.State]int{}}
		rows, err := db.db.QueryContext(ctx, `SELECT state, count(*) FROM documents WHERE folder = ? GROUP BY state`, f)
		if err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				rows.Close()
				return nil, err
			}
			fs.Counts[signagent.State(s)] = n
		}
		rows.Close()

		var rel, state string
		var first int64
		err = db.db.QueryRowContext(ctx, `SELECT rel, state, first_seen FROM documents
			WHERE folder = ? AND state NOT IN (?, ?) ORDER BY id LIMIT 1`,
			f, signagent.StatePublished, signagent.StateFailed).Scan(&rel, &state, &first)
		switch {
		case err == nil:
			since := fromNanos(first)
			fs.Oldest = &signagent.Waiting{File: rel, State: signagent.State(state), Since: since, Age: now.Sub(since)}
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("ledger: status: %w", err)
		}

		rrows, err := db.db.QueryContext(ctx, `SELECT rel, attempts, next_attempt FROM documents
			WHERE folder = ? AND state = ? AND next_attempt > 0 ORDER BY next_attempt LIMIT 10`, f, signagent.StateClaimed)
		if err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		for rrows.Next() {
			var r signagent.Retry
			var next int64
			if err := rrows.Scan(&r.File, &r.Attempts, &next); err != nil {
				rrows.Close()
				return nil, err
			}
			r.NextAttempt = fromNanos(next)
			fs.Retrying = append(fs.Retrying, r)
		}
		rrows.Close()

		var reason sql.NullString
		err = db.db.QueryRowContext(ctx, `SELECT reason FROM holds WHERE folder = ?`, f).Scan(&reason)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		fs.Held = reason.String
		if fs.OutcomeUnknown, err = db.unknownBatches(ctx, f); err != nil {
			return nil, err
		}

		brows, err := db.db.QueryContext(ctx, `SELECT ref, backend, operation, docs, submitted_at FROM batches
			WHERE folder = ? AND state = ? ORDER BY id LIMIT 100`, f, BatchSubmitted)
		if err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		for brows.Next() {
			var op signagent.Operation
			var opJSON string
			var sub int64
			if err := brows.Scan(&op.Batch, &op.Backend, &opJSON, &op.Docs, &sub); err != nil {
				brows.Close()
				return nil, err
			}
			op.ID = operationID(opJSON)
			op.Submitted = fromNanos(sub)
			fs.InFlight = append(fs.InFlight, op)
		}
		brows.Close()

		frows, err := db.db.QueryContext(ctx, `SELECT rel, error_code, error_message, updated_at FROM documents
			WHERE folder = ? AND state = ? ORDER BY updated_at DESC LIMIT 10`, f, signagent.StateFailed)
		if err != nil {
			return nil, fmt.Errorf("ledger: status: %w", err)
		}
		for frows.Next() {
			var fl signagent.Failure
			var code string
			var at int64
			if err := frows.Scan(&fl.File, &code, &fl.Message, &at); err != nil {
				frows.Close()
				return nil, err
			}
			fl.Code, fl.FailedAt = signagent.Code(code), fromNanos(at)
			fs.Failures = append(fs.Failures, fl)
		}
		frows.Close()
		st.Folders = append(st.Folders, fs)
	}
	return st, nil
}

// operationID extracts the "id" of a stored operation without depending on
// package signer.
func operationID(opJSON string) string {
	var v struct {
		ID string `json:"id"`
	}
	if opJSON == "" || json.Unmarshal([]byte(opJSON), &v) != nil {
		return ""
	}
	return v.ID
}
