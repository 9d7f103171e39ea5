// Package atomicfile writes whole files in place: a reader of the path sees
// the old content or the new one, never a part, and once WriteFile returns
// the new content survives a crash where the platform allows it.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// TempPattern names the temporary files (os.CreateTemp): dot-prefixed, so
// listings and watchers pass over them, and short, so that one beside a
// file with a name of the longest length still fits.
const TempPattern = ".signagent-*.partial"

// WriteFile writes data to a temporary file in path's directory, gives it
// perm, flushes it to disk, renames it over path and flushes the directory
// (SyncDir). On Windows the rename itself is written through
// (MOVEFILE_WRITE_THROUGH). A file system that cannot set permissions is
// not an error. On failure path is unchanged and the temporary file is
// removed.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil && !Unsupported(err, false) {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// Unsupported reports whether err is a file system's answer that it cannot
// do what was asked at all (a directory flush on some network and FUSE file
// systems, a chmod on FAT), as opposed to a failure: no reason to hold a
// folder. dir says the operation was on a directory handle (where Windows
// answers ERROR_ACCESS_DENIED).
func Unsupported(err error, dir bool) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) || unsupportedErrno(err, dir)
}
