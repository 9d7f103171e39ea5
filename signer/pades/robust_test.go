package pades

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedTailNoPanic damages, byte by byte, the end of real and
// generated PDFs (cross-reference sections, trailers, startxref) and reads
// them as Sign does: every outcome must be an update or an error, never a
// panic or a hang.
func TestDamagedTailNoPanic(t *testing.T) {
	var docs [][]byte
	filepath.WalkDir("../../testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".pdf") && len(docs) < 3 {
			if b, err := os.ReadFile(p); err == nil {
				docs = append(docs, b)
			}
		}
		return nil
	})
	docs = append(docs, hybridFixture(t))
	signer := &x509.Certificate{Subject: pkix.Name{CommonName: "Robust"}}
	o := Options{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tried := 0
	for _, orig := range docs {
		from := max(0, len(orig)-700)
		for i := from; i < len(orig); i++ {
			for _, c := range []byte{'9', ' ', 0xff, '<'} {
				if orig[i] == c {
					continue
				}
				b := bytes.Clone(orig)
				b[i] = c
				tried++
				d, err := open(bytes.NewReader(b), int64(len(b)))
				if err != nil {
					if !errors.Is(err, errCorrupt) && !errors.Is(err, errEOF) {
						t.Fatalf("byte %d = %q: open: unexpected error %v", i, c, err)
					}
					continue
				}
				buildUpdate(d, signer, o, 4096) // errors are fine
			}
		}
	}
	if tried < 1000 {
		t.Fatalf("only %d damaged variants", tried)
	}
}

// hybridFixture is a small hybrid-reference PDF whose cross-reference
// stream, with /Index, lies in the last bytes.
func hybridFixture(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n")
	off := []int{0}
	obj := func(s string) { off = append(off, b.Len()); b.WriteString(s) }
	obj("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	obj("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	obj("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>\nendobj\n")
	xs := b.Len()
	rows := []byte{1, 0, 0, byte(off[1]), 0, 1, 0, 0, byte(off[2]), 0}
	b.WriteString("4 0 obj\n<< /Type /XRef /Size 5 /W [1 3 1] /Index [1 2] /Length 10 >>\nstream\n")
	b.Write(rows)
	b.WriteString("\nendstream\nendobj\n")
	x := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n3 1\n")
	b.WriteString(strings.Repeat("0", 10-len(itoa(int64(off[3])))) + itoa(int64(off[3])) + " 00000 n \n")
	b.WriteString("trailer\n<< /Size 5 /Root 1 0 R /XRefStm " + itoa(int64(xs)) + " >>\nstartxref\n" + itoa(int64(x)) + "\n%%EOF\n")
	d, err := open(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatalf("hybrid fixture: %v", err)
	}
	if _, err := buildUpdate(d, &x509.Certificate{}, Options{Time: time.Now()}, 4096); err != nil {
		t.Fatalf("hybrid fixture: %v", err)
	}
	return b.Bytes()
}
