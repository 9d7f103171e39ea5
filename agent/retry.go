package agent

import (
	"math"
	"time"
)

// The schedule of a document's retries after transient failures.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 5 * time.Minute
)

// retryWait returns how long a document waits after its n-th failed attempt
// (n ≥ 1; the count is kept in the ledger, so the schedule survives a
// restart): retryFirst doubled n-1 times, capped at retryMax, then spread
// over ±50 % by jitter (in [0, 1)) so that documents failing together do not
// all return together.
func retryWait(n int, jitter float64) time.Duration {
	base := float64(retryMax)
	if n <= 1 {
		base = float64(retryFirst)
	} else if n < 40 {
		base = math.Min(float64(retryFirst)*math.Exp2(float64(n-1)), float64(retryMax))
	}
	return time.Duration(base * (0.5 + jitter))
}
