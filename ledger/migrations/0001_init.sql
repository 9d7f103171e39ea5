-- Documents and batches of the pipeline. States are stable text (see
-- signagent.State). Times are Unix nanoseconds. No document bytes, ever.
-- A document's claim path is derived from the ledger instance and its id
-- (ledger.DB.claimPath), so it is not stored.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE batches (
	id           INTEGER PRIMARY KEY,
	folder       TEXT    NOT NULL,
	backend      TEXT    NOT NULL,
	ref          TEXT    NOT NULL UNIQUE,
	state        TEXT    NOT NULL,            -- open | submitted | done
	operation    TEXT    NOT NULL DEFAULT '', -- JSON of signer.Operation
	attempts     INTEGER NOT NULL DEFAULT 0,
	docs         INTEGER NOT NULL DEFAULT 0,
	bytes        INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	submitted_at INTEGER NOT NULL DEFAULT 0,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX batches_open ON batches(folder, state) WHERE state <> 'done';

CREATE TABLE documents (
	id            INTEGER PRIMARY KEY,
	folder        TEXT    NOT NULL,
	rel           TEXT    NOT NULL,             -- path relative to the inbox, slash-separated
	size          INTEGER NOT NULL,
	mtime         INTEGER NOT NULL,
	sha256        TEXT    NOT NULL,
	state         TEXT    NOT NULL,
	batch_id      INTEGER REFERENCES batches(id),
	attempts      INTEGER NOT NULL DEFAULT 0,
	error_code    TEXT    NOT NULL DEFAULT '',
	error_message TEXT    NOT NULL DEFAULT '',
	sig_type      TEXT    NOT NULL DEFAULT '',
	output        TEXT    NOT NULL DEFAULT '',  -- published (or error) path
	output_sha256 TEXT    NOT NULL DEFAULT '',
	first_seen    INTEGER NOT NULL,
	settled_at    INTEGER NOT NULL DEFAULT 0,
	first_try     INTEGER NOT NULL DEFAULT 0,  -- first submission, for give_up_after
	next_attempt  INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL,
	cleaned       INTEGER NOT NULL DEFAULT 0   -- 1 once the terminal side effects are done
);
CREATE INDEX documents_state ON documents(folder, state);
CREATE INDEX documents_work ON documents(folder, id) WHERE cleaned = 0;
CREATE INDEX documents_sha ON documents(folder, sha256);
CREATE INDEX documents_failed ON documents(folder, updated_at) WHERE state = 'failed';
CREATE INDEX documents_batch ON documents(batch_id);
CREATE INDEX documents_updated ON documents(updated_at) WHERE cleaned = 1;

CREATE TABLE holds (
	folder TEXT PRIMARY KEY,
	reason TEXT    NOT NULL,
	since  INTEGER NOT NULL
);
