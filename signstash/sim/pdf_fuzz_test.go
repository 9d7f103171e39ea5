package sim

import (
	"bytes"
	"math"
	"testing"
)

// FuzzPDFLocate: the visible-signature locator never panics or runs away on
// any input, and what it finds is on a page the document has.
func FuzzPDFLocate(f *testing.F) {
	f.Add(testPDF("Signature1", "SIGNHERE"), "Signature1")
	f.Add(testPDF("", "SIGNHERE"), "SIGNHERE")
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >> endobj 2 0 obj << /Type /Pages /Kids [2 0 R 4 0 R] >> endobj 3 0 obj << /T (a) /Kids [3 0 R] >> endobj 4 0 obj << /Type /Page /Contents [5 0 R 5 0 R] >> endobj 5 0 obj << /Length 99 >> stream\nBT (a) ' [(a)] TJ T* ET\nendstream endobj trailer << /Root 1 0 R >>"), "a")
	f.Add([]byte("%PDF-1.5\n1 0 obj << /Type /ObjStm /N 2 /First 8 >> stream\n2 0 3 5 << >> (x)\nendstream endobj"), "x")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		if len(b) > 1<<16 {
			return
		}
		d, err := readPDF(b)
		if err != nil {
			return
		}
		for _, find := range []func(string) (location, error){d.findField, d.findWord} {
			loc, err := find(name)
			if err == nil && (loc.page < 1 || loc.page > len(d.pages)) {
				t.Fatalf("found on page %d of %d", loc.page, len(d.pages))
			}
		}
		if len(name) > 0 && !bytes.Contains(b, []byte("stream")) && bytes.IndexByte(b, '(') < 0 && bytes.IndexByte(b, '<') < 0 {
			if _, err := d.findWord(name); err == nil {
				t.Fatalf("word %q found in a document without text", name)
			}
		}
	})
}

// FuzzVisible: the visible-signature grammar never panics, and what it
// accepts is a place on a page.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"page=1,x=70,y=100", "page=0,x=1,y=2", " page = 2 ,x=1e3,y=-4", "page=1,x=NaN,y=1", "x=1"} {
		f.Add("COORDINATE", s, "width=155,height=50")
	}
	f.Add("SIGN_FIELD", "Signature1", "")
	f.Add("PLACEHOLDER", "", "width=1")
	f.Fuzz(func(t *testing.T, typ, value, area string) {
		v, err := checkVisible(&visibleInfo{LocationType: typ, LocationValue: value, Area: area})
		if err != nil || v == nil {
			return
		}
		if typ != locCoordinate || v.Page < 1 || math.IsNaN(v.X+v.Y+v.W+v.H) || math.IsInf(v.X+v.Y+v.W+v.H, 0) {
			t.Fatalf("%q %q %q accepted as %+v", typ, value, area, v)
		}
	})
}
