//go:build windows

package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// syncDir does nothing on Windows. A directory cannot be flushed there:
// FlushFileBuffers answers ERROR_ACCESS_DENIED on a directory handle opened
// for reading, ERROR_INVALID_FUNCTION on SMB shares. NTFS journals its
// metadata, and the renames that must be durable go through renameDurable
// and placeNew, which ask for MOVEFILE_WRITE_THROUGH.
func syncDir(string) error { return nil }

// renameDurable renames src to dst, replacing dst, and returns only once the
// move has reached the disk.
func renameDurable(src, dst string) error {
	return moveFile(src, dst, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
}

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
	from, err := windows.UTF16PtrFromString(fixLongPath(src))
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(fixLongPath(dst))
	if err != nil {
		return err
	}
	if err := windows.MoveFileEx(from, to, flags); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return nil
}

// unsupportedErrno reports the Windows answers of a file system that cannot
// do what was asked: a flush of a directory (ERROR_INVALID_FUNCTION on SMB,
// ERROR_ACCESS_DENIED on a directory handle opened for reading), a chmod.
func unsupportedErrno(err error, dir bool) bool {
	return errors.Is(err, windows.ERROR_INVALID_FUNCTION) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_INVALID_PARAMETER) || (dir && errors.Is(err, windows.ERROR_ACCESS_DENIED))
}

// fixLongPath gives an absolute path of MAX_PATH or more its \\?\ form,
// which the Win32 file functions take at any length (as package os does for
// its own calls). Other paths are returned unchanged.
func fixLongPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) || !filepath.IsAbs(p) {
		return p
	}
	p = filepath.Clean(p)
	if strings.HasPrefix(p, `\\`) {
		return `\\?\UNC\` + p[2:] // \\server\share\… → \\?\UNC\server\share\…
	}
	return `\\?\` + p
}
