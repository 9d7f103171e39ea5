// Package ledger is the agent's memory: one SQLite file (modernc.org/sqlite,
// no cgo) holding every document and batch with its state, attempts, error
// and digests — never document bytes.
//
// Every exported method that changes state runs in one immediate
// transaction, so after a crash the ledger says exactly which side effect may
// or may not have happened, and the agent's reconcile step finishes or redoes
// it. Times come from DB.Now.
package ledger
