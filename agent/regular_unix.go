//go:build unix

package agent

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openNoFollow opens path read-only; a symbolic link fails (ELOOP) instead
// of being followed, and a FIFO opens at once instead of waiting for a
// writer (openRegular then refuses it).
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s: %w (a symbolic link)", path, errNotRegular)
	}
	return f, err
}

// sameDevice reports whether a and b live on one file system.
func sameDevice(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return !ok1 || !ok2 || sa.Dev == sb.Dev
}
