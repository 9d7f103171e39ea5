package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signing"
)

// The fuzz targets below read and sign arbitrary bytes. Plain `go test` runs
// their seeds; `make fuzz` explores. Inputs that once broke the reader are
// kept under testdata/fuzz/<target>.

// fuzzDeadline bounds one input: far above the milliseconds a seed takes,
// so only a loop or a runaway allocation reaches it.
const fuzzDeadline = 10 * time.Second

// within runs fn and fails t if it panics or has not returned after
// fuzzDeadline (the fuzzer then keeps the input, as for a crash). fn runs
// on another goroutine: it reports with t.Errorf, never t.Fatal.
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		msg := ""
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
			}
			done <- msg
		}()
		fn()
	}()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(fuzzDeadline):
		t.Fatalf("no result after %v: the reader loops", fuzzDeadline)
	}
}

// addPDFSeeds adds small generated PDFs (a classic cross-reference table;
// a cross-reference stream with the page in an object stream; a form with
// an incremental update) and the two smallest PDFs of the corpus.
func addPDFSeeds(f *testing.F) {
	f.Add(seedPDF(false))
	f.Add(seedPDF(true))
	f.Add(seedFormUpdate())
	var real []string
	filepath.WalkDir("../../testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".pdf") {
			real = append(real, p)
		}
		return nil
	})
	sort.Slice(real, func(i, j int) bool { return fileSize(real[i]) < fileSize(real[j]) })
	for _, p := range real[:min(2, len(real))] {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// seedPDF is a one-page PDF. With xrefStream its cross-reference section
// is a stream and the page dictionary lies in an object stream.
func seedPDF(xrefStream bool) []byte {
	var b bytes.Buffer
	off := map[int]int{}
	obj := func(n int, body string) {
		off[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [] >>"
	if !xrefStream {
		obj(3, page)
		x := b.Len()
		b.WriteString("xref\n0 4\n0000000000 65535 f \n")
		for n := 1; n <= 3; n++ {
			fmt.Fprintf(&b, "%010d 00000 n \n", off[n])
		}
		fmt.Fprintf(&b, "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
		return b.Bytes()
	}
	hdr := "3 0 "
	obj(4, fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream", len(hdr), len(hdr)+len(page), hdr, page))
	x := b.Len()
	// W [1 2 1]: type, offset or object stream, generation or index.
	var rows []byte
	for _, r := range [][3]int{{0, 0, 255}, {1, off[1], 0}, {1, off[2], 0}, {2, 4, 0}, {1, off[4], 0}, {1, x, 0}} {
		rows = append(rows, byte(r[0]), byte(r[1]>>8), byte(r[1]), byte(r[2]))
	}
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /XRef /Size 6 /W [1 2 1] /Root 1 0 R /Length %d >>\nstream\n", len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// seedFormUpdate is seedPDF(false) with an AcroForm holding a text field
// with kids, added by an incremental update.
func seedFormUpdate() []byte {
	b := bytes.NewBuffer(seedPDF(false))
	prev := bytes.LastIndex(b.Bytes(), []byte("startxref"))
	prevX := strings.TrimSpace(strings.SplitN(string(b.Bytes()[prev+len("startxref"):]), "%%EOF", 2)[0])
	off := map[int]int{}
	obj := func(n int, body string) {
		off[n] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /DA (/Helv 0 Tf 0 g) >> >>")
	obj(4, "<< /FT /Tx /T (Name) /Kids [5 0 R] >>")
	obj(5, "<< /Parent 4 0 R /Type /Annot /Subtype /Widget /Rect [10 10 90 30] /P 3 0 R /V (Alice) >>")
	x := b.Len()
	fmt.Fprintf(b, "xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n4 2\n%010d 00000 n \n%010d 00000 n \n", off[1], off[4], off[5])
	fmt.Fprintf(b, "trailer\n<< /Size 6 /Root 1 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", prevX, x)
	return b.Bytes()
}

// FuzzRead reads arbitrary bytes as Sign does before writing anything:
// the cross-reference chain, the catalog, the page, the form, and the
// update built from them. Every outcome is an update or a document error,
// never a panic or a hang.
func FuzzRead(f *testing.F) {
	addPDFSeeds(f)
	signer := &x509.Certificate{Subject: pkix.Name{CommonName: "Fuzz"}}
	o := Options{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, b []byte) {
		within(t, func() {
			d, err := open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				if !errors.Is(err, errCorrupt) && !errors.Is(err, errEOF) {
					t.Errorf("open: %v is not a document error", err)
				}
				return
			}
			u, err := buildUpdate(d, signer, o, 4096)
			if err != nil {
				var se *signagent.Error
				if !errors.Is(err, errCorrupt) && !errors.Is(err, errEOF) && !errors.As(err, &se) {
					t.Errorf("buildUpdate: %v is not a document error", err)
				}
				return
			}
			if u.base != int64(len(b)) {
				t.Errorf("update starts at %d, not at the end of the %d-byte document", u.base, len(b))
			}
			if end := u.contentsAt + int64(u.contentsHexLen) + 2; u.contentsAt <= 0 || end > int64(len(u.bytes)) {
				t.Errorf("/Contents hole [%d, %d) outside the %d-byte update", u.contentsAt, end, len(u.bytes))
			}
		})
	})
}

// FuzzSign signs arbitrary bytes with an ECDSA test key. Signing either
// fails with a document error, or yields a file that starts with the input
// unchanged and holds a valid signature by the key covering all of it.
func FuzzSign(f *testing.F) {
	addPDFSeeds(f)
	p := fuzzPKI(f)
	dir := f.TempDir()
	o := Options{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Name: "Fuzz"}
	// An input already signed once: Verify then reads a signature dictionary
	// and its CMS container too.
	if signed, err := signBytes(dir, seedPDF(false), p, o); err == nil {
		f.Add(signed)
	} else {
		f.Fatalf("sign the seed: %v", err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		within(t, func() {
			var w signing.Written
			o := o
			o.Taken = &w
			out, err := signBytes(dir, b, p, o)
			if err != nil {
				var se *signagent.Error
				if !errors.As(err, &se) || se.Kind != signagent.KindDocument {
					t.Errorf("Sign: %v is not a document error", err)
				}
				return
			}
			if !bytes.HasPrefix(out, b) {
				t.Errorf("the input is not an unchanged prefix of the output")
				return
			}
			// Checked as the agent checks any output, and as it checks
			// the local signer's, with the digests taken while signing.
			for _, taken := range []*signing.Written{nil, &w} {
				sigs, dg, err := verifyBytes(dir, out, int64(len(b)), taken)
				if err != nil {
					t.Errorf("Sign succeeded but Verify (digests taken: %v) fails: %v", taken != nil, err)
					return
				}
				if whole, first := sha256.Sum256(out), sha256.Sum256(b); !bytes.Equal(dg.File, whole[:]) || !bytes.Equal(dg.Prefix, first[:]) {
					t.Errorf("VerifyDigests (digests taken: %v): digests %x, %x; want the output's %x and the input's %x", taken != nil, dg.File, dg.Prefix, whole, first)
				}
				ok := false
				for _, s := range sigs {
					if s.CoversWholeDocument && s.Err == nil && s.Signer != nil && s.Signer.Equal(p.Chain[0]) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("Sign succeeded but Verify (digests taken: %v) finds no valid signature covering the output: %+v", taken != nil, sigs)
				}
			}
		})
	})
}

// fuzzPKI is a self-signed ECDSA signer, made in microseconds: every fuzz
// worker process makes its own, and RSA key generation under the fuzzer's
// instrumentation takes a minute.
func fuzzPKI(f *testing.F) *testpki.PKI {
	return testpki.SelfSigned(f, testpki.Cert{ECDSA: true, CommonName: "Fuzz Signer"})
}

// signBytes signs b through temporary files in dir and returns the output.
func signBytes(dir string, b []byte, p *testpki.PKI, o Options) ([]byte, error) {
	in, err := os.CreateTemp(dir, "in")
	if err != nil {
		return nil, err
	}
	defer os.Remove(in.Name())
	defer in.Close()
	if _, err := in.Write(b); err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(dir, "out")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	if err := Sign(context.Background(), in, out, p.Key, p.Chain, o); err != nil {
		return nil, err
	}
	return os.ReadFile(out.Name())
}

// verifyBytes verifies b, with VerifyTaken when taken is not nil, else
// with VerifyDigests.
func verifyBytes(dir string, b []byte, prefix int64, taken *signing.Written) ([]Signature, Digests, error) {
	f, err := os.CreateTemp(dir, "signed")
	if err != nil {
		return nil, Digests{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return nil, Digests{}, err
	}
	if taken != nil {
		return VerifyTaken(f.Name(), taken)
	}
	return VerifyDigests(f.Name(), prefix)
}
