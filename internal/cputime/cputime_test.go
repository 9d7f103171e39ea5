//go:build unix

package cputime

import (
	"crypto/sha256"
	"testing"
)

// Work done on this goroutine shows up as CPU time: the reading never goes
// back, and it grows while the test hashes.
func TestProcessGrowsWithWork(t *testing.T) {
	before := Process()
	if before <= 0 {
		t.Fatalf("Process() = %v at start; a running test has used CPU", before)
	}
	sum := sha256.Sum256(nil)
	for range 1000 {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		after := Process()
		if after < before {
			t.Fatalf("Process() went back from %v to %v", before, after)
		}
		if after > before {
			return
		}
	}
	t.Errorf("Process() stayed at %v through ten million hashes", before)
}
