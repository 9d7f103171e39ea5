-- How often a claimed document's bytes were found changed after its claim
-- (the producer still writing): after a few it fails as CHANGED_AFTER_CLAIM.
ALTER TABLE documents ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
