// Package datadir guards the agent's data directory: one agent at a time
// (Acquire takes an exclusive lock beside the ledger and names its holder),
// and no silent fresh start when the ledger is gone (Evidence lists what
// shows that the directory and the folders were used before).
package datadir
