//go:build !windows

package agent

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// syncDir makes a rename or link in dir durable. A file system that cannot
// flush a directory (EINVAL or ENOTSUP from some network and FUSE file
// systems) is not an error: there is nothing more we could do.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err, true) {
		return err
	}
	return nil
}

// renameDurable renames src to dst, replacing dst; the caller flushes the
// directory with syncDir.
func renameDurable(src, dst string) error { return os.Rename(src, dst) }

// placeNew moves src to dst without ever replacing an existing dst: a hard
// link fails atomically when dst exists. Where links are not supported
// (FAT, exFAT, many SMB servers) a rename that refuses to replace does the
// same (renameat2 RENAME_NOREPLACE on Linux); only where that is missing too
// is it an existence check and a rename, which a writer racing for the same
// name in the same instant could lose.
func placeNew(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil {
		return os.Remove(src)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	err = renameNoReplace(src, dst)
	if err == nil || errors.Is(err, fs.ErrExist) || !isUnsupported(err, false) {
		return err
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: fs.ErrExist}
	}
	return os.Rename(src, dst)
}

// unsupportedErrno reports the answers of a file system that cannot do what
// was asked beyond those isUnsupported knows everywhere.
func unsupportedErrno(err error, dir bool) bool {
	return errors.Is(err, syscall.ENOSYS)
}
