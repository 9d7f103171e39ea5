package minipdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"testing"
)

// File's xref table points at each object, and startxref at the table;
// FlateStream's content inflates back.
func TestFile(t *testing.T) {
	b := File("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>", FlateStream("BT ET"))
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no startxref at the end:\n%q", b)
	}
	x, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[x:], []byte("xref\n0 4\n")) {
		t.Fatalf("startxref %d does not point at the table", x)
	}
	rows := bytes.Split(b[x:], []byte("\n"))[3:6]
	for i, row := range rows {
		off, _ := strconv.Atoi(string(row[:10]))
		if want := fmt.Sprintf("%d 0 obj\n", i+1); !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Errorf("xref row %d (%q) does not point at %q", i+1, row, want)
		}
	}
	s := regexp.MustCompile(`(?s)/Length (\d+) /Filter /FlateDecode >>\nstream\n(.*)\nendstream`).FindSubmatch(b)
	if s == nil {
		t.Fatal("no Flate stream")
	}
	if n, _ := strconv.Atoi(string(s[1])); n != len(s[2]) {
		t.Errorf("/Length %d for %d bytes", n, len(s[2]))
	}
	zr, err := zlib.NewReader(bytes.NewReader(s[2]))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := io.ReadAll(zr); string(c) != "BT ET" {
		t.Errorf("content %q", c)
	}
}
