// Package cputime reads the CPU time the running process has used, for the
// benchmarks that report CPU per document beside wall time.
package cputime

import "time"

// Process is the CPU time (user + system, all threads) the process has used
// so far. It is 0 where the platform does not report it; the difference of
// two readings is the CPU spent between them.
func Process() time.Duration { return process() }
