package watcher

import "os"

// stamp is what a directory's own metadata says about its entries: a
// directory whose stamp has not changed has the same entries.
type stamp struct {
	mtime, size int64
	sys         sysStamp // change time, inode and link count where known
}

// dirStamp reads the stamp of directory p without following a link.
func dirStamp(p string) (stamp, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mtime: fi.ModTime().UnixNano(), size: fi.Size(), sys: sysStampOf(fi)}, nil
}
