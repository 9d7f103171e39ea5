package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/signagent/signagent"
)

// errNotRegular reports an inbox entry that is not a regular file: a
// symbolic link (or another reparse point on Windows), FIFO, socket, device
// or directory. The agent never reads through one.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading without following a symbolic link,
// without blocking on a FIFO, and checks that what it opened is a regular
// file. It returns the opened file's information.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w (%v)", path, errNotRegular, fi.Mode().Type())
	}
	return f, fi, nil
}

// hashRegular returns the SHA-256 of the regular file at path, the bytes
// it read and the opened file's information (see openRegular).
func hashRegular(path string) (string, int64, fs.FileInfo, error) {
	f, fi, err := openRegular(path)
	if err != nil {
		return "", 0, nil, err
	}
	defer f.Close()
	sum, n, err := hashReader(f)
	return sum, n, fi, err
}

// notRegular is the document error for an entry that is not a regular file.
func notRegular(mode fs.FileMode) error {
	what := "not a regular file"
	switch {
	case mode&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode&fs.ModeDir != 0:
		what = "a folder"
	case mode&fs.ModeIrregular != 0:
		what = "a special file (reparse point)"
	}
	return signagent.DocError(signagent.CodeNotRegular,
		"the inbox entry is "+what+", not a regular file; it was moved here as it is and whatever it points to was never read",
		"put the document itself into the inbox, not a link to it")
}
