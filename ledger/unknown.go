package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/signagent/signagent"
)

// BatchUnknown is the state of a batch whose outcome look-ups could not
// settle for a bounded time: it waits for an operator's decision.
const BatchUnknown = "unknown"

// Operator decisions on a batch in state BatchUnknown.
const (
	DecisionResend = "resend" // send it again, under a new reference
	DecisionFail   = "fail"   // fail its documents as OUTCOME_UNKNOWN
)

// ErrNotUnknown is returned by Resolve for a batch that does not wait for a
// decision.
var ErrNotUnknown = errors.New("the batch does not wait for a decision")

// MarkUnknown records that batch b waits for an operator's decision, from
// now, and clears any earlier decision.
func (db *DB) MarkUnknown(ctx context.Context, b *Batch) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE batches SET state = ?, unknown_since = ?, decision = '', updated_at = ?
			WHERE id = ? AND state <> ?`, BatchUnknown, db.now(), db.now(), b.ID, BatchDone)
		if err == nil {
			b.State = BatchUnknown
		}
		return err
	})
}

// Decision returns the operator's decision on a batch waiting for one, ""
// while there is none.
func (db *DB) Decision(ctx context.Context, id int64) (string, error) {
	var d string
	err := db.db.QueryRowContext(ctx, `SELECT decision FROM batches WHERE id = ? AND state = ?`, id, BatchUnknown).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return d, err
}

// Resolve records an operator's decision (DecisionResend or DecisionFail)
// on the batch named by batch (its number or its reference), which must
// wait for one; the agent carries it out, at once if it runs, else when it
// starts. It works while the agent runs.
func (db *DB) Resolve(ctx context.Context, batch, decision string) (*signagent.UnknownBatch, error) {
	if decision != DecisionResend && decision != DecisionFail {
		return nil, fmt.Errorf("ledger: unknown decision %q", decision)
	}
	var ub *signagent.UnknownBatch
	err := db.tx(ctx, func(tx *sql.Tx) error {
		id, _ := strconv.ParseInt(batch, 10, 64)
		var state string
		var since int64
		ub = &signagent.UnknownBatch{}
		err := tx.QueryRowContext(ctx, `SELECT id, folder, ref, state, docs, unknown_since FROM batches WHERE id = ? OR ref = ?`,
			id, batch).Scan(&ub.ID, &ub.Folder, &ub.Ref, &state, &ub.Docs, &since)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no batch %q in the ledger", batch)
		}
		if err != nil {
			return err
		}
		if state != BatchUnknown {
			return fmt.Errorf("batch %d is %s: %w", ub.ID, state, ErrNotUnknown)
		}
		ub.Since, ub.Decision = fromNanos(since), decision
		_, err = tx.ExecContext(ctx, `UPDATE batches SET decision = ?, updated_at = ? WHERE id = ?`, decision, db.now(), ub.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ub, nil
}

// unknownBatches lists folder's batches waiting for a decision, for Status.
func (db *DB) unknownBatches(ctx context.Context, folder string) ([]signagent.UnknownBatch, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, folder, ref, docs, unknown_since, decision FROM batches
		WHERE folder = ? AND state = ? ORDER BY id LIMIT 100`, folder, BatchUnknown)
	if err != nil {
		return nil, fmt.Errorf("ledger: status: %w", err)
	}
	defer rows.Close()
	var out []signagent.UnknownBatch
	for rows.Next() {
		var ub signagent.UnknownBatch
		var since int64
		if err := rows.Scan(&ub.ID, &ub.Folder, &ub.Ref, &ub.Docs, &since, &ub.Decision); err != nil {
			return nil, err
		}
		ub.Since = fromNanos(since)
		out = append(out, ub)
	}
	return out, rows.Err()
}
