// Package bench holds the programs behind `make bench` (scripts/bench.sh):
//
//	go run ./internal/bench/pipeline   agent end to end vs the bare signer, latency
//	go run ./internal/bench/backlog    100,000 files at start-up, real binary
//	go run ./internal/bench/signstash  the agent through signstash-sim: peak RSS, CPU shares, 1 x 50 vs 50 x 1
//	go run ./internal/bench/bigsign    peak RSS signing one large PDF
//
// Every figure is printed by the programs; nothing here asserts a time.
// Shared helpers (workload files, percentiles, /proc readings) are in
// package benchdata; certificates come from internal/testpki and CPU time
// from internal/cputime. The peer comparison is the separate bench/ module.
package bench
