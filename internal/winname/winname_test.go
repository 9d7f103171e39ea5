package winname

import (
	"testing"
	"unicode/utf8"
)

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  bool
	}{
		{"invoice.pdf", false},
		{"CON.pdf", true},
		{"con", true},
		{"nul.xml", true},
		{"Nul.tar.gz", true},
		{"COM1.pdf", true},
		{"com9", true},
		{"LPT³.txt", true},
		{"COM10.pdf", false},
		{"CONSOLE.pdf", false},
		{"icon.pdf", false},
		{"AUX .pdf", true},
		{"conin$.xml", true},
		{"invoice.pdf.", true},
		{"invoice.pdf ", true},
		{"a. b.pdf", false},
		{".hidden.pdf", false},
		{"...", true},
		{".", false},
		{"", false},
	} {
		if got := Problem(tc.name) != ""; got != tc.bad {
			t.Errorf("Problem(%q) = %q, want a problem: %v", tc.name, Problem(tc.name), tc.bad)
		}
	}
}

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"invoice.pdf":   "invoice.pdf",
		"CON.pdf":       "_CON.pdf",
		"nul.xml":       "_nul.xml",
		"COM1.pdf":      "_COM1.pdf",
		"invoice.pdf.":  "invoice.pdf_",
		"invoice.pdf .": "invoice.pdf__",
		"space.pdf ":    "space.pdf_",
		"con.":          "con_",
		"aux":           "_aux",
		"...":           "___",
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := SafePath("CON/sub./a.pdf"), "_CON/sub_/a.pdf"; got != want {
		t.Errorf("SafePath = %q, want %q", got, want)
	}
	if got := ProblemPath("ok/LPT1/a.pdf"); got != "folder LPT1: LPT1 is a device name Windows reserves" {
		t.Errorf("ProblemPath = %q", got)
	}
	if got := ProblemPath("ok/a.pdf"); got != "" {
		t.Errorf("ProblemPath(ok/a.pdf) = %q", got)
	}
}

// FuzzSafe: whatever the name, Safe gives one Windows can address, and
// changes none it can already.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"CON.pdf", "a.pdf.", "b ", "COM¹", "x", "..", " . "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || name == "." || name == ".." {
			return
		}
		s := Safe(name)
		if Problem(s) != "" {
			t.Fatalf("Safe(%q) = %q, still a problem: %s", name, s, Problem(s))
		}
		if Problem(name) == "" && s != name {
			t.Fatalf("Safe(%q) = %q, changed a name Windows can address", name, s)
		}
	})
}
