//go:build !windows

package agent

import (
	"errors"
	"io/fs"
	"os"

	"github.com/signagent/signagent/internal/atomicfile"
)

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
	if err == nil || errors.Is(err, fs.ErrExist) || !atomicfile.Unsupported(err, false) {
		return err
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return &os.LinkError{Op: "rename", Old: src, New: dst, Err: fs.ErrExist}
	}
	return os.Rename(src, dst)
}
