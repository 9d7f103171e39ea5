//go:build unix

package config

import (
	"io/fs"
	"strconv"
	"syscall"
)

// volumeID identifies the filesystem holding path: renames succeed only
// between paths with the same ID.
func volumeID(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", err
	}
	return strconv.FormatUint(uint64(st.Dev), 10), nil // Dev is int32 on darwin
}

// secretTooOpen reports whether a secret file may be read by group or others.
func secretTooOpen(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o077 != 0 }
