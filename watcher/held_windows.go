//go:build windows

package watcher

import (
	"errors"
	"syscall"

	"github.com/signagent/signagent/internal/winname"
)

// Windows error codes for an open refused because another process holds the
// file without sharing.
const (
	errSharingViolation syscall.Errno = 32
	errLockViolation    syscall.Errno = 33
)

// heldByOther reports whether another process holds p open without sharing,
// which is how many Windows programs keep a file while writing it: an
// exclusive open of our own must succeed before the file counts as ready.
func heldByOther(p string) bool {
	name, err := syscall.UTF16PtrFromString(winname.Extended(p)) // CON.pdf: the file, not the console
	if err != nil {
		return false
	}
	h, err := syscall.CreateFile(name, syscall.GENERIC_READ, 0, nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return errors.Is(err, errSharingViolation) || errors.Is(err, errLockViolation)
	}
	syscall.CloseHandle(h)
	return false
}
