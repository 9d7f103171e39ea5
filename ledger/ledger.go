package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/signagent/signagent"
)

// applicationID marks the SQLite file as a signagent ledger ("SgnA").
const applicationID = 0x53676e41

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the ledger. One per process; safe for concurrent use.
type DB struct {
	db       *sql.DB
	path     string
	instance string
	// Now is the clock; tests replace it.
	Now func() time.Time

	// Hot statements, prepared once: database/sql keeps one prepared copy
	// per connection, so transactions reuse them instead of re-preparing.
	insertDoc, markClaimed, applyDoc, duplicate *sql.Stmt
}

// Open opens (creating if needed) the ledger at path and applies pending
// migrations.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	// WAL lets `signagent status` read while the agent writes; the busy
	// timeout makes such readers wait instead of failing; immediate
	// transactions take the write lock up front so two writers never
	// deadlock on a lock upgrade; synchronous=NORMAL is durable across
	// process crashes in WAL mode, which is the failure we guard against.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)&_txlock=immediate"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; a small pool serves readers.
	sdb.SetMaxOpenConns(4)
	db := &DB{db: sdb, path: path, Now: time.Now}
	if err := db.checkHealth(context.Background()); err != nil {
		sdb.Close()
		return nil, err
	}
	if err := db.migrate(context.Background()); err != nil {
		sdb.Close()
		return nil, err
	}
	if err := db.prepare(); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) prepare() error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.db.Prepare(q)
		return st
	}
	// A document whose content failed before (and was requeued by `retry`,
	// or dropped again) continues that document's attempt count.
	db.insertDoc = prep(`INSERT INTO documents(folder, rel, size, mtime, sha256, state,
			first_seen, settled_at, updated_at, attempts) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,
			coalesce((SELECT max(attempts) FROM documents WHERE folder = ?1 AND sha256 = ?5 AND ?5 <> '' AND state = 'failed'), 0))
			RETURNING id, attempts`)
	db.duplicate = prep(`SELECT ` + docColumns + ` FROM documents
		WHERE folder = ? AND sha256 = ? AND id <> ? AND state NOT IN (?, ?) ORDER BY id LIMIT 1`)
	db.markClaimed = prep(`UPDATE documents SET state = ?, updated_at = ? WHERE id = ? AND state = ?`)
	db.applyDoc = prep(`UPDATE documents SET
			state = coalesce(nullif(?, ''), state),
			batch_id = nullif(?, 0),
			attempts = max(attempts, ?),
			error_code = coalesce(nullif(?, ''), error_code),
			error_message = coalesce(nullif(?, ''), error_message),
			sig_type = coalesce(nullif(?, ''), sig_type),
			output = coalesce(nullif(?, ''), output),
			output_sha256 = coalesce(nullif(?, ''), output_sha256),
			first_try = coalesce(nullif(first_try, 0), ?),
			next_attempt = ?,
			cleaned = max(cleaned, ?),
			updated_at = ?
			WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("ledger: prepare: %w", err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Path is the ledger file.
func (db *DB) Path() string { return db.path }

// Instance is a random id created with the ledger; claim names carry it so
// several agents sharing an inbox never collide.
func (db *DB) Instance() string { return db.instance }

func (db *DB) migrate(ctx context.Context) error {
	var appID int64
	if err := db.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("ledger: %s: %w", db.path, err)
	}
	var version int
	if err := db.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if appID != 0 && appID != applicationID {
		return fmt.Errorf("ledger: %s is not a signagent ledger (application_id %#x)", db.path, appID)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("ledger: bad migration name %s", name)
		}
		if n <= version {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("ledger: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("ledger: migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", n, applicationID)); err != nil {
			tx.Rollback()
			return fmt.Errorf("ledger: migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("ledger: migration %s: %w", name, err)
		}
		version = n
	}
	err = db.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'instance'").Scan(&db.instance)
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 4)
		rand.Read(b)
		db.instance = hex.EncodeToString(b)
		_, err = db.db.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES ('instance', ?)", db.instance)
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// tx runs fn in one immediate transaction.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

func (db *DB) now() int64 { return db.Now().UnixNano() }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Doc is a document's ledger record.
type Doc struct {
	ID          int64
	Folder      string
	Rel         string // relative to the inbox, slash-separated
	Size        int64
	ModTime     time.Time
	SHA256      string
	State       signagent.State
	Claim       string // relative to the inbox while in flight
	BatchID     int64
	Attempts    int
	ErrCode     signagent.Code
	ErrMessage  string
	SigType     string
	Output      string
	OutputSHA   string
	FirstSeen   time.Time
	SettledAt   time.Time
	FirstTry    time.Time
	NextAttempt time.Time
	UpdatedAt   time.Time
	Cleaned     bool
	// Changed counts the times the claimed bytes were found changed
	// after the claim (see Rehash).
	Changed int
}

const docColumns = `id, folder, rel, size, mtime, sha256, state, coalesce(batch_id, 0), attempts,
	error_code, error_message, sig_type, output, output_sha256, first_seen, settled_at, first_try,
	next_attempt, updated_at, cleaned, changed`

func (db *DB) scanDoc(row interface{ Scan(...any) error }) (*Doc, error) {
	var d Doc
	var mtime, first, settled, firstTry, next, updated int64
	var state, code string
	err := row.Scan(&d.ID, &d.Folder, &d.Rel, &d.Size, &mtime, &d.SHA256, &state, &d.BatchID,
		&d.Attempts, &code, &d.ErrMessage, &d.SigType, &d.Output, &d.OutputSHA, &first, &settled, &firstTry,
		&next, &updated, &d.Cleaned, &d.Changed)
	if err != nil {
		return nil, err
	}
	d.ModTime, d.FirstSeen, d.SettledAt = fromNanos(mtime), fromNanos(first), fromNanos(settled)
	d.FirstTry, d.NextAttempt, d.UpdatedAt = fromNanos(firstTry), fromNanos(next), fromNanos(updated)
	d.State, d.ErrCode = signagent.State(state), signagent.Code(code)
	d.Claim = db.claimPath(d.ID, d.Rel)
	return &d, nil
}

// claimPath is where document id waits in the inbox while in flight:
// unique to this ledger's instance, so agents sharing an inbox never
// collide, and keeping the original extension.
func (db *DB) claimPath(id int64, rel string) string {
	return fmt.Sprintf("%s/%s-%d%s", ClaimDir, db.instance, id, strings.ToLower(filepath.Ext(rel)))
}

// forgetSeen deletes a document (id, then signagent.StateSeen) recorded
// but never claimed.
const forgetSeen = `DELETE FROM documents WHERE id = ? AND state = ?`

// ClaimDir is the agent-owned claim area inside every inbox.
const ClaimDir = ".signagent"

// AddSeen records ready files before they are claimed, in one
// transaction, and assigns each its ID and claim path (unique to this
// ledger's instance). Once their claim renames are done, Claim records
// them; a document left seen with its claim file present counts as
// claimed anyway (reconcile).
func (db *DB) AddSeen(ctx context.Context, docs ...*Doc) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, db.insertDoc)
		for _, d := range docs {
			err := st.QueryRowContext(ctx,
				d.Folder, d.Rel, d.Size, nanos(d.ModTime), d.SHA256, signagent.StateSeen, now, nanos(d.SettledAt), now,
			).Scan(&d.ID, &d.Attempts)
			if err != nil {
				return fmt.Errorf("ledger: add %s: %w", d.Rel, err)
			}
		}
		for _, d := range docs {
			d.Claim = db.claimPath(d.ID, d.Rel)
			d.State, d.FirstSeen, d.UpdatedAt = signagent.StateSeen, fromNanos(now), fromNanos(now)
		}
		return nil
	})
}

// Claim records, in one transaction, the claims of documents of folder
// added by AddSeen whose renames into the claim area are done, and forgets
// the ones in forget (never claimed: the file vanished, or another agent
// won it). Documents are claimed in order, each followed by Duplicate's
// question, so the second of two documents with the same content finds
// the first. dups[i] is docs[i]'s duplicate, or nil.
func (db *DB) Claim(ctx context.Context, folder string, docs []*Doc, forget []int64) (dups []*Doc, err error) {
	now := db.now()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		dups = make([]*Doc, len(docs))
		mark, dup := tx.StmtContext(ctx, db.markClaimed), tx.StmtContext(ctx, db.duplicate)
		for i, d := range docs {
			if _, err := mark.ExecContext(ctx, signagent.StateClaimed, now, d.ID, signagent.StateSeen); err != nil {
				return fmt.Errorf("ledger: claim document %d: %w", d.ID, err)
			}
			o, err := db.duplicateBy(ctx, dup, folder, d.SHA256, d.ID)
			if err != nil {
				return fmt.Errorf("ledger: duplicate of document %d: %w", d.ID, err)
			}
			dups[i] = o
		}
		for _, id := range forget {
			if _, err := tx.ExecContext(ctx, forgetSeen, id, signagent.StateSeen); err != nil {
				return fmt.Errorf("ledger: forget document %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		d.State, d.UpdatedAt = signagent.StateClaimed, fromNanos(now)
	}
	return dups, nil
}

// Get returns one document.
func (db *DB) Get(ctx context.Context, id int64) (*Doc, error) {
	return db.scanDoc(db.db.QueryRowContext(ctx, `SELECT `+docColumns+` FROM documents WHERE id = ?`, id))
}

// Rehash records new content for a claimed document whose bytes changed
// after its claim: the digest, size and modification time of what it holds
// now, and one more change. What is signed next is checked against it.
func (db *DB) Rehash(ctx context.Context, d *Doc) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE documents SET sha256 = ?, size = ?, mtime = ?, changed = ?,
			updated_at = ? WHERE id = ?`, d.SHA256, d.Size, nanos(d.ModTime), d.Changed, db.now(), d.ID)
		if err != nil {
			return fmt.Errorf("ledger: rehash document %d: %w", d.ID, err)
		}
		return nil
	})
}

// Delete forgets a document that was never claimed (its file vanished or
// another agent won it).
func (db *DB) Delete(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, forgetSeen, id, signagent.StateSeen)
		return err
	})
}

// Update is a state change of one document. Zero fields are left as they are,
// except BatchID which is always written (0 clears it).
type Update struct {
	ID          int64
	State       signagent.State
	BatchID     int64
	Attempts    int
	ErrCode     signagent.Code
	ErrMessage  string
	SigType     string
	Output      string
	OutputSHA   string
	FirstTry    time.Time
	NextAttempt time.Time
	Cleaned     bool
}

// Apply writes several document updates in one transaction.
func (db *DB) Apply(ctx context.Context, ups ...Update) error {
	if len(ups) == 0 {
		return nil
	}
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, db.applyDoc)
		for _, u := range ups {
			if _, err := stmt.ExecContext(ctx, string(u.State), u.BatchID, u.Attempts, string(u.ErrCode),
				u.ErrMessage, u.SigType, u.Output, u.OutputSHA, nanos(u.FirstTry), nanos(u.NextAttempt),
				u.Cleaned, now, u.ID); err != nil {
				return fmt.Errorf("ledger: update document %d: %w", u.ID, err)
			}
		}
		return nil
	})
}

// Unfinished calls fn for every document of folder whose work is not done:
// a non-terminal state, or a terminal one whose side effects (archive,
// error file) are not yet recorded as done. Oldest first. fn must not call
// back into the ledger's write methods (collect, then act).
func (db *DB) Unfinished(ctx context.Context, folder string, fn func(*Doc) error) error {
	rows, err := db.db.QueryContext(ctx, `SELECT `+docColumns+` FROM documents
		WHERE folder = ? AND cleaned = 0 ORDER BY id`, folder)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := db.scanDoc(rows)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return rows.Err()
}

// BatchDocs returns the documents of a batch in batch order.
func (db *DB) BatchDocs(ctx context.Context, batchID int64) ([]*Doc, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+docColumns+` FROM documents WHERE batch_id = ? ORDER BY id`, batchID)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []*Doc
	for rows.Next() {
		d, err := db.scanDoc(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Duplicate returns a document of folder other than id with the same
// content that is published or on its way there, or nil.
func (db *DB) Duplicate(ctx context.Context, folder, sha string, id int64) (*Doc, error) {
	return db.duplicateBy(ctx, db.duplicate, folder, sha, id)
}

// duplicateBy is Duplicate through st, the duplicate query prepared on
// the database or in a transaction.
func (db *DB) duplicateBy(ctx context.Context, st *sql.Stmt, folder, sha string, id int64) (*Doc, error) {
	d, err := db.scanDoc(st.QueryRowContext(ctx, folder, sha, id, signagent.StateFailed, signagent.StateSeen))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, err
}

// Batch is a batch's ledger record.
type Batch struct {
	ID          int64
	Folder      string
	Backend     string
	Ref         string
	State       string // BatchOpen, BatchSubmitted, BatchDone
	Operation   string // JSON of signing.Operation
	Attempts    int
	Docs        int
	Bytes       int64
	CreatedAt   time.Time
	SubmittedAt time.Time
}

// Batch states.
const (
	BatchOpen      = "open"      // recorded; a send may or may not have happened
	BatchSubmitted = "submitted" // the backend accepted it; Operation is set
	BatchDone      = "done"
)

// CreateBatch records a batch and moves its documents to batched, in one
// transaction, before anything is sent.
func (db *DB) CreateBatch(ctx context.Context, b *Batch, docIDs []int64) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO batches(folder, backend, ref, state, docs, bytes, created_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?)`, b.Folder, b.Backend, "pending-"+randHex(), BatchOpen, len(docIDs), b.Bytes, now, now)
		if err != nil {
			return fmt.Errorf("ledger: create batch: %w", err)
		}
		if b.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		b.Ref = fmt.Sprintf("signagent-%s-%d-1", db.instance, b.ID)
		b.State, b.Docs, b.CreatedAt, b.Attempts = BatchOpen, len(docIDs), fromNanos(now), 1
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET ref = ?, attempts = 1 WHERE id = ?`, b.Ref, b.ID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE documents SET state = ?, batch_id = ?, updated_at = ?,
			first_try = coalesce(nullif(first_try, 0), ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range docIDs {
			if _, err := stmt.ExecContext(ctx, signagent.StateBatched, b.ID, now, now, id); err != nil {
				return fmt.Errorf("ledger: batch document %d: %w", id, err)
			}
		}
		return nil
	})
}

// Resubmit gives an open batch a new reference (after a lookup proved the
// old one absent) and counts the attempt.
func (db *DB) Resubmit(ctx context.Context, b *Batch) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		b.Attempts++
		b.Ref = fmt.Sprintf("signagent-%s-%d-%d", db.instance, b.ID, b.Attempts)
		b.State, b.Operation = BatchOpen, ""
		_, err := tx.ExecContext(ctx, `UPDATE batches SET ref = ?, attempts = ?, state = ?, operation = '', updated_at = ? WHERE id = ?`,
			b.Ref, b.Attempts, b.State, db.now(), b.ID)
		return err
	})
}

// MarkSubmitted records the backend's operation for a batch and moves its
// documents still batched to submitted.
func (db *DB) MarkSubmitted(ctx context.Context, b *Batch, op string) error {
	now := db.now()
	return db.tx(ctx, func(tx *sql.Tx) error {
		b.State, b.Operation, b.SubmittedAt = BatchSubmitted, op, fromNanos(now)
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET state = ?, operation = ?, submitted_at = ?, updated_at = ? WHERE id = ?`,
			b.State, op, now, now, b.ID); err != nil {
			return fmt.Errorf("ledger: batch %d: %w", b.ID, err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE documents SET state = ?, updated_at = ? WHERE batch_id = ? AND state = ?`,
			signagent.StateSubmitted, now, b.ID, signagent.StateBatched)
		return err
	})
}

// FinishBatch marks a batch done.
func (db *DB) FinishBatch(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE batches SET state = ?, updated_at = ? WHERE id = ?`, BatchDone, db.now(), id)
		return err
	})
}

// OpenBatches returns the batches of folder that are not done.
func (db *DB) OpenBatches(ctx context.Context, folder string) ([]*Batch, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, folder, backend, ref, state, operation, attempts, docs, bytes,
		created_at, submitted_at FROM batches WHERE folder = ? AND state <> ? ORDER BY id`, folder, BatchDone)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	var out []*Batch
	for rows.Next() {
		var b Batch
		var created, submitted int64
		if err := rows.Scan(&b.ID, &b.Folder, &b.Backend, &b.Ref, &b.State, &b.Operation, &b.Attempts, &b.Docs,
			&b.Bytes, &created, &submitted); err != nil {
			return nil, err
		}
		b.CreatedAt, b.SubmittedAt = fromNanos(created), fromNanos(submitted)
		out = append(out, &b)
	}
	return out, rows.Err()
}

// Hold records that folder's queue is held for reason; Release clears it.
func (db *DB) Hold(ctx context.Context, folder, reason string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO holds(folder, reason, since) VALUES (?,?,?)
			ON CONFLICT(folder) DO UPDATE SET reason = excluded.reason`, folder, reason, db.now())
		return err
	})
}

// Release clears folder's hold.
func (db *DB) Release(ctx context.Context, folder string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE folder = ?`, folder)
		return err
	})
}

// Prune deletes finished documents and batches last changed before t and
// returns how many documents went. Deleted rows are reused by SQLite, so
// the file stops growing without VACUUM.
func (db *DB) Prune(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE cleaned = 1 AND updated_at < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM batches WHERE state = ? AND updated_at < ?
			AND NOT EXISTS (SELECT 1 FROM documents WHERE batch_id = batches.id)`, BatchDone, before.UnixNano())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ledger: prune: %w", err)
	}
	return n, nil
}

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Ping checks that the ledger can still be written.
func (db *DB) Ping(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('ping', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(db.now(), 10))
		return err
	})
}

// NoteRequeued records that the failed document published at errorPath was
// sent back to the inbox by `signagent retry`.
func (db *DB) NoteRequeued(ctx context.Context, folder, errorPath string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE documents SET error_message = 'requeued by retry: ' || error_message,
			output = '', updated_at = ? WHERE folder = ? AND state = ? AND output = ?`,
			db.now(), folder, signagent.StateFailed, errorPath)
		return err
	})
}
