package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent/internal/atomicfile"
)

// The fallback of placeNew where hard links fail (FAT, exFAT, SMB) must not
// replace an existing output either.
func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, ".src"), filepath.Join(dir, "out.pdf")
	for _, p := range []string{src, dst} {
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := renameNoReplace(src, dst)
	if atomicfile.Unsupported(err, false) {
		t.Skipf("this file system has no RENAME_NOREPLACE: %v", err)
	}
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("renameNoReplace over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "out.pdf" {
		t.Errorf("existing file replaced: %q", b)
	}
	os.Remove(dst)
	if err := renameNoReplace(src, dst); err != nil {
		t.Fatalf("renameNoReplace to a free name: %v", err)
	}
}
