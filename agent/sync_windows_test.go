package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/internal/atomicfile"
	"golang.org/x/sys/windows"
)

func TestIsUnsupportedWindows(t *testing.T) {
	for _, c := range []struct {
		errno windows.Errno
		dir   bool
		want  bool
	}{
		{windows.ERROR_INVALID_FUNCTION, true, true}, // FlushFileBuffers on an SMB directory
		{windows.ERROR_ACCESS_DENIED, true, true},    // FlushFileBuffers on a read-only directory handle
		{windows.ERROR_ACCESS_DENIED, false, false},  // on a file it is a real refusal
		{windows.ERROR_NOT_SUPPORTED, false, true},
		{windows.ERROR_DISK_FULL, true, false},
	} {
		err := &fs.PathError{Op: "sync", Path: `C:\outbox`, Err: c.errno}
		if got := atomicfile.Unsupported(err, c.dir); got != c.want {
			t.Errorf("atomicfile.Unsupported(%v, dir=%v) = %v, want %v", c.errno, c.dir, got, c.want)
		}
	}
}

// Windows names are case-insensitive: placing "Invoice.pdf" where
// "invoice.pdf" exists must be refused, never replace it.
func TestPlaceNewCaseInsensitive(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "invoice.pdf"), []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, ".src")
	if err := os.WriteFile(src, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := placeNew(src, filepath.Join(dir, "Invoice.pdf")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("placeNew(Invoice.pdf) beside invoice.pdf: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "invoice.pdf")); string(b) != "first" {
		t.Errorf("invoice.pdf replaced: %q", b)
	}
	if p := freePath(dir, "INVOICE.pdf"); filepath.Base(p) != "INVOICE (1).pdf" {
		t.Errorf("freePath(INVOICE.pdf) = %s, want INVOICE (1).pdf", filepath.Base(p))
	}
}

// Paths past MAX_PATH (260) work once given their \\?\ form.
func TestPlaceNewLongPath(t *testing.T) {
	dir := t.TempDir()
	deep := dir
	for len(deep) < 300 {
		deep = filepath.Join(deep, strings.Repeat("d", 40))
	}
	if err := os.MkdirAll(deep, 0o750); err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(deep, ".src"), filepath.Join(deep, strings.Repeat("n", 60)+".pdf")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if len(dst) <= 260 {
		t.Fatalf("test path too short: %d", len(dst))
	}
	if err := placeNew(src, dst); err != nil {
		t.Fatalf("placeNew to a %d-character path: %v", len(dst), err)
	}
	if err := atomicfile.Rename(dst, dst+".2"); err != nil {
		t.Fatalf("atomicfile.Rename on a %d-character path: %v", len(dst), err)
	}
	if !exists(dst + ".2") {
		t.Error("renamed file missing")
	}
}

func TestFixLongPath(t *testing.T) {
	long := strings.Repeat("a", 250)
	for in, want := range map[string]string{
		`C:\short`:               `C:\short`,
		`C:\` + long:             `\\?\C:\` + long,
		`\\server\share\` + long: `\\?\UNC\server\share\` + long,
		`\\?\C:\` + long:         `\\?\C:\` + long,
		`C:\x\..\` + long:        `\\?\C:\` + long,
		`relative\` + long:       `relative\` + long,
	} {
		if got := atomicfile.LongPath(in); got != want {
			t.Errorf("atomicfile.LongPath(%.20s…) = %.30s…, want %.30s…", in, got, want)
		}
	}
}

// A handle left open on the source for a moment (a request body still being
// read, a virus scanner) must not fail the placement: it used to hold the
// folder with a sharing violation.
func TestPlaceNewWaitsForOpenHandle(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, ".src"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src) // no FILE_SHARE_DELETE: a move of src fails while it is open
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(300 * time.Millisecond); f.Close() }()
	if err := placeNew(src, dst); err != nil {
		t.Fatalf("placeNew with a handle open for 300ms: %v", err)
	}
	if !exists(dst) || exists(src) {
		t.Errorf("after placeNew: dst exists %v, src exists %v", exists(dst), exists(src))
	}
}
