//go:build windows

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// SyncDir does nothing on Windows. A directory cannot be flushed there:
// FlushFileBuffers answers ERROR_ACCESS_DENIED on a directory handle opened
// for reading, ERROR_INVALID_FUNCTION on SMB shares. NTFS journals its
// metadata, and WriteFile's rename asks for MOVEFILE_WRITE_THROUGH.
func SyncDir(string) error { return nil }

// Rename renames src to dst, replacing dst, and returns only once the move
// has reached the disk.
func Rename(src, dst string) error {
	from, err := windows.UTF16PtrFromString(LongPath(src))
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(LongPath(dst))
	if err != nil {
		return err
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return nil
}

// unsupportedErrno reports the Windows answers of a file system that cannot
// do what was asked: ERROR_INVALID_FUNCTION on SMB, ERROR_ACCESS_DENIED on
// a directory handle opened for reading.
func unsupportedErrno(err error, dir bool) bool {
	return errors.Is(err, windows.ERROR_INVALID_FUNCTION) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_INVALID_PARAMETER) || (dir && errors.Is(err, windows.ERROR_ACCESS_DENIED))
}

// LongPath gives an absolute path of MAX_PATH or more its \\?\ form, which
// the Win32 file functions take at any length (as package os does for its
// own calls). Other paths are returned unchanged.
func LongPath(p string) string {
	if len(p) < 248 || strings.HasPrefix(p, `\\?\`) || !filepath.IsAbs(p) {
		return p
	}
	p = filepath.Clean(p)
	if strings.HasPrefix(p, `\\`) {
		return `\\?\UNC\` + p[2:] // \\server\share\… → \\?\UNC\server\share\…
	}
	return `\\?\` + p
}
