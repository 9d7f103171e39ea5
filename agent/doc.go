// Package agent is the pipeline. For each watched folder:
//
//	reconcile → claim → batch → submit → track → publish → record
//
// reconcile finishes or redoes whatever the ledger says was under way when
// the agent last stopped; claim records a ready file in the ledger and
// renames it into the inbox's claim area; the batcher groups claimed
// documents by count, bytes and time; a worker submits each batch to the
// folder's backend, tracks it until it is done, publishes every signed file
// into the outbox (never overwriting), archives or deletes the original, and
// moves every failed original to error/ with an error file.
//
// Every transition is written to the ledger before the side effect that
// depends on it can be seen, and every side effect is idempotent, so a crash
// at any instant leaves each input signed exactly once, failed with an error
// file, or still pending.
package agent
