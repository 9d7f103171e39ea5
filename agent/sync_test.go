package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/signagent/signagent/internal/atomicfile"
)

// A directory flush must never fail where the platform cannot flush
// directories: on Windows it used to answer "Access denied" and hold every
// folder after its first batch.
func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
}

func TestIsUnsupported(t *testing.T) {
	for _, c := range []struct {
		err  error
		dir  bool
		want bool
	}{
		{&fs.PathError{Op: "sync", Path: "d", Err: syscall.EINVAL}, true, true},
		{&fs.PathError{Op: "sync", Path: "d", Err: syscall.ENOTSUP}, true, true},
		{&fs.PathError{Op: "sync", Path: "d", Err: syscall.EOPNOTSUPP}, true, true},
		{&fs.PathError{Op: "chmod", Path: "f", Err: errors.ErrUnsupported}, false, true},
		{&fs.PathError{Op: "sync", Path: "d", Err: syscall.EIO}, true, false},
		{&fs.PathError{Op: "sync", Path: "d", Err: syscall.ENOSPC}, true, false},
		{errors.New("invalid argument"), true, false},
	} {
		if got := atomicfile.Unsupported(c.err, c.dir); got != c.want {
			t.Errorf("atomicfile.Unsupported(%v, dir=%v) = %v, want %v", c.err, c.dir, got, c.want)
		}
	}
}

func TestPlaceNew(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, ".src"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := placeNew(src, dst); err != nil {
		t.Fatalf("placeNew to a free name: %v", err)
	}
	if exists(src) {
		t.Error("source left behind")
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("placed %q, want %q", b, "new")
	}

	// An existing name is never replaced.
	if err := os.WriteFile(src, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := placeNew(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("placeNew over an existing file: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("existing output replaced: %q", b)
	}
	if !exists(src) {
		t.Error("source lost after a refused placement")
	}
}

func TestRenameDurable(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{src, dst} {
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := atomicfile.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "a" || exists(src) {
		t.Errorf("after atomicfile.Rename: dst %q, src exists %v", b, exists(src))
	}
}
