package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records what Check reports instead of failing the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Name() string          { return "TestFake" }
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }

// Check passes on equal bytes, fails on different ones, and with the flag
// set writes the file so the same bytes pass.
func TestCheck(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "a.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	update := false
	f := &Files{name: "update", update: &update}
	for _, tt := range []struct {
		got  string
		fail bool
	}{{"one\n", false}, {"two\n", true}} {
		ft := &fakeT{TB: t}
		f.Check(ft, "a.txt", []byte(tt.got))
		if ft.failed != tt.fail {
			t.Errorf("Check(%q): failed %v, want %v", tt.got, ft.failed, tt.fail)
		}
	}
	update = true
	ft := &fakeT{TB: t}
	f.Check(ft, "a.txt", []byte("two\n"))
	if b, _ := os.ReadFile(filepath.Join("testdata", "a.txt")); ft.failed || string(b) != "two\n" {
		t.Errorf("with the flag: failed %v, file %q", ft.failed, b)
	}
}
