package watcher

import "testing"

func TestIgnored(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"invoice.pdf", false},
		{"INVOICE.PDF", false},
		{"a.done", false}, // only skipped in marker mode, by the watcher
		{"tmp.pdf", false},
		{"part", false},
		{".hidden.pdf", true},
		{".signagent", true},
		{".invoice.pdf.partial", true},
		{"~$report.docx", true},
		{"x.tmp", true},
		{"x.TMP", true},
		{"x.pdf.part", true},
		{"x.partial", true},
		{"x.pdf.crdownload", true},
		{"x.pdf.filepart", true},
		{"Thumbs.db", true},
		{"thumbs.DB", true},
		{"desktop.ini", true},
		{"Desktop.INI", true},
		{"", true},
	} {
		if got := Ignored(tc.name); got != tc.want {
			t.Errorf("Ignored(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	pdfXML := []string{"*.pdf", "*.xml"}
	for _, tc := range []struct {
		rel              string
		include, exclude []string
		want             bool
	}{
		{"a.pdf", nil, nil, true},
		{"a.txt", pdfXML, nil, false},
		{"a.pdf", pdfXML, nil, true},
		{"A.PDF", pdfXML, nil, true},
		{"sub/a.XML", pdfXML, nil, true},
		{"sub/a.pdf", []string{"sub/*.pdf"}, nil, false}, // include is on the base name only
		{"a.pdf", pdfXML, []string{"a.*"}, false},
		{"draft-1.pdf", pdfXML, []string{"DRAFT-*"}, false},
		{"sub/a.pdf", nil, []string{"sub/*"}, false}, // exclude on the relative path
		{"other/a.pdf", nil, []string{"sub/*"}, true},
		{"sub/deep/a.pdf", nil, []string{"sub/*"}, true}, // * does not cross /
		{"a.pdf", []string{"[bad"}, nil, false},          // malformed matches nothing
	} {
		if got := Match(tc.rel, tc.include, tc.exclude); got != tc.want {
			t.Errorf("Match(%q, %q, %q) = %v, want %v", tc.rel, tc.include, tc.exclude, got, tc.want)
		}
	}
}

func TestIsMarker(t *testing.T) {
	for name, want := range map[string]bool{"a.pdf.done": true, "a.DONE": true, ".done": false, "done": false, "a.pdf": false} {
		if got := isMarker(name); got != want {
			t.Errorf("isMarker(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestExcludesDir(t *testing.T) {
	p := newPatterns(nil, []string{"archive", "old/*"})
	for rel, want := range map[string]bool{"archive": true, "x/Archive": true, "old/2024": true, "old": false, "new": false} {
		if got := p.excludesDir(rel); got != want {
			t.Errorf("excludesDir(%q) = %v, want %v", rel, got, want)
		}
	}
}
