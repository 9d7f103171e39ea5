//go:build darwin || freebsd

package watcher

import (
	"strings"

	"golang.org/x/sys/unix"
)

func detectFS(path string) (FS, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return FS{}, err
	}
	if uint64(st.Flags)&unix.MNT_LOCAL != 0 {
		return localFS, nil
	}
	return remoteFS(fsTypeName(&st)), nil
}

// fsTypeName returns the mount's file system name ("smbfs", "nfs",
// "macfuse"), shortened to the names used elsewhere where known.
func fsTypeName(st *unix.Statfs_t) string {
	n := unix.ByteSliceToString(st.Fstypename[:])
	switch {
	case n == "smbfs" || n == "cifs":
		return "smb"
	case n == "nfs":
		return "nfs"
	case strings.Contains(n, "fuse"):
		return "fuse"
	case n == "":
		return "network"
	}
	return n
}
