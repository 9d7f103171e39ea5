package config

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.out from the current output")

// TestGolden pins what a user sees for each testdata/golden/*.toml: the
// error Parse returns (every error, with key, line and hint), then the
// warnings found without the filesystem — or, for check_*.toml, every
// problem Check finds, the test's directory written as $DIR. go test -run
// TestGolden -update rewrites the .out files; review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".toml")
		t.Run(name, func(t *testing.T) {
			check := strings.HasPrefix(name, "check_")
			if check && runtime.GOOS == "windows" {
				t.Skip("the check output names Unix paths and commands")
			}
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := goldenOutput(t, src, filepath.ToSlash(in), check)
			out := strings.TrimSuffix(in, ".toml") + ".out"
			if *update {
				if err := os.WriteFile(out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != strings.ReplaceAll(string(want), "\r\n", "\n") {
				t.Errorf("output of %s changed:\n--- got:\n%s\n--- want:\n%s", in, got, want)
			}
		})
	}
}

func goldenOutput(t *testing.T, src []byte, path string, check bool) string {
	var b strings.Builder
	c, err := Parse(src, path)
	b.WriteString("== Parse\n")
	if err != nil {
		b.WriteString(err.Error() + "\n")
	} else {
		b.WriteString("ok\n")
	}
	if c == nil {
		return b.String()
	}
	if check {
		b.WriteString("== Check\n")
		ps := Problems(c.check(nil))
		dir, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.ReplaceAll(ps.Error(), dir, "$DIR") + "\n")
		return b.String()
	}
	var warnings Problems
	for _, p := range c.static() {
		if p.Warning {
			warnings = append(warnings, p)
		}
	}
	if len(warnings) > 0 {
		b.WriteString("== warnings\n" + warnings.Error() + "\n")
	}
	return b.String()
}
