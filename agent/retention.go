package agent

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PruneArchive deletes the day folders of the dated archive tree
// (archive/YYYY/MM/DD) older than before, and returns how many files went.
// The folder's date is when the originals were archived; their own mtimes
// are the producer's and say nothing about it.
func PruneArchive(root string, before time.Time) (int, error) {
	cutoff := before.Format("2006/01/02")
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished or unreadable: skip
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if !d.IsDir() || len(parts) != 3 {
			return nil
		}
		day := strings.Join(parts, "/")
		if _, perr := time.Parse("2006/01/02", day); perr != nil || day >= cutoff {
			return filepath.SkipDir
		}
		filepath.WalkDir(p, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				n++
			}
			return nil
		})
		os.RemoveAll(p)
		os.Remove(filepath.Dir(p))               // month, when empty
		os.Remove(filepath.Dir(filepath.Dir(p))) // year, when empty
		return filepath.SkipDir
	})
	return n, err
}
