package signstash

import (
	"testing"

	"github.com/signagent/signagent/signing"
)

type signingDoc = signing.Doc

func TestZipEntryRef(t *testing.T) {
	refs := map[string]bool{"b.d1": true, "b.d1.x": true, "b.d2": true}
	byEntry := map[string]string{"b.d1.a.pdf": "b.d1", "b.d1.x.a.pdf": "b.d1.x", "b.d2.c.pdf": "b.d2"}
	for entry, want := range map[string]string{
		"b.d1.a.pdf":         "b.d1",
		"b.d1.x.a.pdf":       "b.d1.x", // not b.d1 with a name "x.a.pdf"
		"folder/b.d2.c.pdf":  "b.d2",
		`folder\b.d2.c.pdf`:  "b.d2",
		"b.d2.renamed.pdf":   "b.d2", // the server renamed it: the longest reference wins
		"b.d1.x.renamed.pdf": "b.d1.x",
		"other.pdf":          "",
		"b.d3.a.pdf":         "",
	} {
		if got := zipEntryRef(entry, byEntry, refs); got != want {
			t.Errorf("zipEntryRef(%q) = %q, want %q", entry, got, want)
		}
	}
}

func TestWireNames(t *testing.T) {
	docs := []struct{ name, want string }{
		{"a.pdf", "a.pdf"},
		{"a.pdf", "a~2.pdf"},
		{"A.PDF", "A~3.PDF"}, // unique regardless of case
		{"a~2.pdf", "a~2~2.pdf"},
		{"quo\"te\\s/and\nnewline.pdf", "quo_te_s_and_newline.pdf"},
		{"fatura nº 7.xml", "fatura nº 7.xml"},
	}
	var in []signingDoc
	for _, d := range docs {
		in = append(in, signingDoc{Name: d.name})
	}
	got := wireNames(in)
	for i, d := range docs {
		if got[i] != d.want {
			t.Errorf("wireNames[%d] (%q) = %q, want %q", i, d.name, got[i], d.want)
		}
	}
}
