package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// names lists dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Name())
	}
	return ns
}

func TestWriteFileCreates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	if err := WriteFile(p, []byte("hello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "hello\n" {
		t.Fatalf("read back %q, %v", b, err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a.txt"}) {
		t.Errorf("directory holds %q, want only a.txt", got)
	}
}

// An existing file is replaced, content and permissions, whatever its own
// permissions were (the umask does not apply either).
func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "unit.service")
	if err := os.WriteFile(p, []byte("a much longer old content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Errorf("content %q, want %q", b, "new\n")
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v (%v), want 0644", fi.Mode().Perm(), err)
		}
	}
	if got := names(t, dir); !slices.Equal(got, []string{"unit.service"}) {
		t.Errorf("directory holds %q, want only unit.service", got)
	}
}

// A failure after the temporary file was written (here: the rename, as the
// path is a folder) leaves the path as it was and no temporary file behind.
func TestFailureLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "taken")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "inside"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("data"), 0o640); err == nil {
		t.Fatal("WriteFile over a folder succeeded")
	}
	if got := names(t, dir); !slices.Equal(got, []string{"taken"}) {
		t.Errorf("directory holds %q after the failure, want only the folder", got)
	}
	if b, err := os.ReadFile(filepath.Join(p, "inside")); err != nil || string(b) != "kept" {
		t.Errorf("the folder's file: %q, %v", b, err)
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gone", "a.txt")
	if err := WriteFile(p, []byte("x"), 0o640); !os.IsNotExist(err) {
		t.Errorf("WriteFile into a missing folder: %v, want a not-exist error", err)
	}
}

// A path longer than Windows' MAX_PATH is written like any other.
func TestWriteFileLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 300 {
		dir = filepath.Join(dir, strings.Repeat("d", 60))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "a.txt")
	for _, s := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(s), 0o640); err != nil {
			t.Fatalf("%d-character path: %v", len(p), err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Errorf("content %q, want %q", b, s)
		}
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a.txt"}) {
		t.Errorf("directory holds %q, want only a.txt", got)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if runtime.GOOS != "windows" {
		if err := SyncDir(filepath.Join(t.TempDir(), "gone")); !os.IsNotExist(err) {
			t.Errorf("SyncDir of a missing folder: %v, want a not-exist error", err)
		}
	}
}
