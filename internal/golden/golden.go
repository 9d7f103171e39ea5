// Package golden compares what a test produced with a file under its
// package's testdata/, and rewrites the file instead when the test binary
// runs with the flag that package registered:
//
//	var goldenFiles = golden.Flag("update", "rewrite the golden files in testdata/")
//	...
//	goldenFiles.Check(t, "status.json", got)
//
// and `go test ./monitor -run TestStatusJSONGolden -update` rewrites
// testdata/status.json; review the diff.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Files are the golden files of one test package.
type Files struct {
	name   string
	update *bool
}

// Flag registers the boolean command-line flag name (with usage) that
// rewrites the golden files. Call it once per test binary, from a
// package-level variable, as flag.Bool is.
func Flag(name, usage string) *Files {
	return &Files{name: name, update: flag.Bool(name, false, usage)}
}

// Check compares got with testdata/name, after writing got there if the
// flag is set; a difference fails t and shows got.
func (f *Files) Check(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *f.update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -%s rewrites it):\n%s", p, t.Name(), f.name, got)
	}
}
