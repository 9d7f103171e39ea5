package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneArchiveByArchiveDate(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		// A producer's old mtime must not matter: the day folder does.
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		os.Chtimes(p, old, old)
	}
	write("2026/01/30/a.pdf")
	write("2026/01/30/sub/b.pdf")
	write("2026/02/01/c.pdf")
	write("2026/03/15/d.pdf")
	write("notes/keep.txt") // not a day folder: never touched

	n, err := PruneArchive(root, time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d files, want 3", n)
	}
	for rel, want := range map[string]bool{
		"2026/01": false, "2026/02": false, "2026/03/15/d.pdf": true, "notes/keep.txt": true,
	} {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if got := err == nil; got != want {
			t.Errorf("%s exists=%v, want %v", rel, got, want)
		}
	}
}
