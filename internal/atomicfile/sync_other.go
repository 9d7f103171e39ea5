//go:build !windows

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir makes a rename or link in dir durable. A file system that cannot
// flush a directory (EINVAL or ENOTSUP from some network and FUSE file
// systems) is not an error: there is nothing more to do.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !Unsupported(err, true) {
		return err
	}
	return nil
}

// Rename renames src to dst, replacing dst; the caller flushes the
// directory (SyncDir).
func Rename(src, dst string) error { return os.Rename(src, dst) }

func unsupportedErrno(err error, dir bool) bool { return errors.Is(err, syscall.ENOSYS) }
