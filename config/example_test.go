package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExampleDocumentsTheDefaults keeps config.example.toml honest: every
// key it shows commented out ("# key = value") under a live table is the
// default, so uncommenting all of them must change nothing.
func TestExampleDocumentsTheDefaults(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`^# ([a-z_]+ = ("[^"]*"|\[[^\]]*\]|[0-9.]+|true|false))\s*$`)
	header := regexp.MustCompile(`^\s*\[`)
	var out []string
	live, n := true, 0
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case header.MatchString(line):
			live = true // a real table: its commented keys are defaults
		case strings.HasPrefix(line, "# ["):
			live = false // a commented-out table: an example, not a default
		}
		if m := commented.FindStringSubmatch(line); m != nil && live {
			line = m[1]
			n++
		}
		out = append(out, line)
	}
	if n < 20 {
		t.Fatalf("only %d commented defaults found: the example's layout changed", n)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	want, err := Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse([]byte(strings.Join(out, "\n")), path)
	if err != nil {
		t.Fatalf("the example with its defaults uncommented does not parse: %v", err)
	}
	for _, c := range []*Config{want, got} {
		for i := range c.Folders {
			if len(c.Folders[i].Exclude) == 0 {
				c.Folders[i].Exclude = nil // "exclude = []" and no key mean the same
			}
		}
	}
	w, _ := json.MarshalIndent(want, "", " ")
	g, _ := json.MarshalIndent(got, "", " ")
	if string(w) != string(g) {
		t.Errorf("a commented value in config.example.toml is not the default:\nexample as is: %s\nuncommented:   %s", w, g)
	}
}
