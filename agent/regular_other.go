//go:build !unix

package agent

import (
	"fmt"
	"os"
)

// openNoFollow opens path read-only, refusing a symbolic link or another
// reparse point: where the platform has no O_NOFOLLOW, the entry is looked
// at without following it first, and what was opened must be that same
// file (a link swapped in between is caught).
func openNoFollow(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%v)", path, errNotRegular, before.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !os.SameFile(before, after) {
		f.Close()
		return nil, fmt.Errorf("%s: %w (replaced while opened)", path, errNotRegular)
	}
	return f, nil
}

// sameDevice reports whether a and b live on one file system; here a
// mounted folder is a reparse point, refused before it is opened.
func sameDevice(a, b os.FileInfo) bool { return true }
