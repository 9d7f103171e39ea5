//go:build !unix

package pades

import "time"

// CPUTime is not measured on this platform; the cpu-ns metrics read 0.
func CPUTime() time.Duration { return 0 }
