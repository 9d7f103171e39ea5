//go:build windows

package agent

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"

	"github.com/signagent/signagent/internal/atomicfile"
)

// placeNew moves src to dst without ever replacing an existing dst. Without
// MOVEFILE_REPLACE_EXISTING the move fails atomically when dst exists, on
// every Windows file system (FAT, exFAT and SMB shares too, where hard
// links do not work), and the name comparison is the file system's own:
// "Invoice.pdf" takes "invoice.pdf".
//
// A handle still open on src (our own reader finishing a request body, a
// virus scanner) makes the move fail with a sharing violation; that passes
// within moments, so the move is tried again for up to shareWait.
func placeNew(src, dst string) error {
	delay := 20 * time.Millisecond
	for deadline := time.Now().Add(shareWait); ; delay = min(2*delay, 500*time.Millisecond) {
		err := moveFile(src, dst, windows.MOVEFILE_WRITE_THROUGH)
		if err == nil || time.Now().After(deadline) ||
			!(errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_LOCK_VIOLATION)) {
			return err
		}
		time.Sleep(delay)
	}
}

// shareWait is how long placeNew waits for another handle on its source to
// close.
const shareWait = 5 * time.Second

func moveFile(src, dst string, flags uint32) error {
	from, err := windows.UTF16PtrFromString(atomicfile.LongPath(src))
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(atomicfile.LongPath(dst))
	if err != nil {
		return err
	}
	if err := windows.MoveFileEx(from, to, flags); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return nil
}
