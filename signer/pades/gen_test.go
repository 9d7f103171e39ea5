package pades_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// pdfSpec describes a small generated PDF.
type pdfSpec struct {
	version string
	form    bool   // AcroForm with a text field, /DR /DA /NeedAppearances
	afRef   bool   // the AcroForm as an indirect object
	hybrid  bool   // an object stream reached through /XRefStm
	update  bool   // an incremental update already appended
	eol     string // end of cross-reference table entries, " \n" when empty
	filler  int    // extra objects, to make the cross-reference table long
}

// buildPDF writes a two-page PDF: page 1 with text, page 2 with an
// indirect /Annots array holding a link.
func buildPDF(s pdfSpec) []byte {
	objs := map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R /Lang (de-DE) /MarkInfo << /Marked true >> %s>>",
		2: "<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
		3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 6 0 R >> >> %s>>",
		4: stream("BT /F1 12 Tf 72 720 Td (Hello, signer) Tj ET"),
		5: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots 7 0 R >>",
		6: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		7: "[8 0 R]",
		8: "<< /Type /Annot /Subtype /Link /Rect [10 10 50 50] /Border [0 0 0] /A << /S /URI /URI (https://example.com/) >> >>",
	}
	catExtra, pageExtra := "", ""
	if s.form {
		objs[9] = "<< /FT /Tx /T (Name) /V (Alice) /Type /Annot /Subtype /Widget /Rect [100 100 300 120] /P 3 0 R /DA (/Helv 0 Tf 0 g) /F 4 >>"
		af := "<< /Fields [9 0 R] /DR << /Font << /Helv 6 0 R >> >> /DA (/Helv 0 Tf 0 g) /NeedAppearances true >>"
		if s.afRef {
			objs[10] = af
			catExtra = "/AcroForm 10 0 R "
		} else {
			catExtra = "/AcroForm " + af + " "
		}
		pageExtra = "/Annots [9 0 R] "
	}
	objs[1] = fmt.Sprintf(objs[1], catExtra)
	objs[3] = fmt.Sprintf(objs[3], pageExtra)
	n := 0
	for k := range objs {
		n = max(n, k)
	}
	for i := 1; i <= s.filler; i++ {
		objs[n+i] = fmt.Sprintf("(filler %d)", i)
	}
	n += s.filler
	eol := s.eol
	if eol == "" {
		eol = " \n"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", s.version)
	off := map[int]int{}
	for i := 1; i <= n; i++ {
		if o, ok := objs[i]; ok {
			off[i] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i, o)
		}
	}
	size := n + 1
	trailerExtra := ""
	if s.hybrid {
		// Object size+0 is an object stream holding the Info dictionary
		// (object size+1); object size+2 is the cross-reference stream.
		info := "<< /Title (Hybrid test) /Producer (gen) >>"
		stm, info_, xs := size, size+1, size+2
		hdr := fmt.Sprintf("%d 0 ", info_)
		off[stm] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream\nendobj\n",
			stm, len(hdr), len(hdr)+len(info), hdr, info)
		off[xs] = b.Len()
		row := func(t byte, a, c int) []byte {
			return []byte{t, byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a), byte(c >> 8), byte(c)}
		}
		var data []byte
		data = append(data, row(1, off[stm], 0)...)
		data = append(data, row(2, stm, 0)...)
		data = append(data, row(1, off[xs], 0)...)
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%d 3] /Length %d >>\nstream\n", xs, xs+1, stm, len(data))
		b.Write(data)
		b.WriteString("\nendstream\nendobj\n")
		trailerExtra = fmt.Sprintf("/Info %d 0 R /XRefStm %d ", info_, off[xs])
		// The classic table lists stm and xs but not info_.
		objs[stm], objs[xs] = "x", "x"
		size = xs + 1
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f" + eol)
	for i := 1; i < size; {
		if _, ok := off[i]; !ok || objs[i] == "" {
			i++
			continue
		}
		j := i
		for j < size && off[j] != 0 && objs[j] != "" {
			j++
		}
		fmt.Fprintf(&b, "%d %d\n", i, j-i)
		for k := i; k < j; k++ {
			fmt.Fprintf(&b, "%010d 00000 n%s", off[k], eol)
		}
		i = j
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s/ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] >>\nstartxref\n%d\n%%%%EOF\n", size, trailerExtra, xref)
	if s.update {
		// An earlier incremental update: a new Info dictionary.
		infoAt := b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Title (Updated) >>\nendobj\n", size)
		x2 := b.Len()
		fmt.Fprintf(&b, "xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n",
			size, infoAt, size+1, size, xref, x2)
	}
	return b.Bytes()
}

func stream(content string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
}

func writeGen(t *testing.T, name string, s pdfSpec) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buildPDF(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
