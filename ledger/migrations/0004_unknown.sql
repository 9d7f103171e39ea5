-- A batch whose send may have been taken and whose look-ups cannot settle
-- it for outcome_unknown_after is in state 'unknown' (since unknown_since,
-- Unix nanoseconds): it waits for an operator's decision, recorded by
-- `signagent resolve` ('resend' or 'fail') and carried out by the agent.
ALTER TABLE batches ADD COLUMN unknown_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN decision TEXT NOT NULL DEFAULT '';
