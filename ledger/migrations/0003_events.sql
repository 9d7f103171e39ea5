-- Events in the life of the ledger itself, for audit: when it was created,
-- and when an operator started a new one over a data directory that had
-- been used before (`signagent run --new-ledger`). Times are Unix
-- nanoseconds.
CREATE TABLE events (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	kind   TEXT    NOT NULL, -- created | new_ledger
	detail TEXT    NOT NULL DEFAULT ''
);
