//go:build linux

package watcher

import (
	"io/fs"
	"syscall"
)

// sysStamp adds the change time (which no tool can set back), the inode (a
// directory replaced by another) and the link count (sub-directories).
type sysStamp struct{ ctime, ino, nlink int64 }

func sysStampOf(fi fs.FileInfo) sysStamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysStamp{}
	}
	return sysStamp{ctime: st.Ctim.Nano(), ino: int64(st.Ino), nlink: int64(st.Nlink)}
}
