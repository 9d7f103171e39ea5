package pades_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signer/pades"
)

func qpdfOr(t *testing.T) {
	t.Helper()
	if !have(t, "qpdf") {
		t.Skip("qpdf not installed; CI installs it")
	}
}

func qpdf(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf %v: %v\n%s", args, err, out)
	}
}

func TestSignGenerated(t *testing.T) {
	cases := []struct {
		name string
		spec pdfSpec
		vis  *pades.Visible
	}{
		{"pdf13-classic", pdfSpec{version: "1.3"}, nil},
		{"pdf20", pdfSpec{version: "2.0"}, nil},
		{"form-inline-acroform", pdfSpec{version: "1.7", form: true}, nil},
		{"form-indirect-acroform", pdfSpec{version: "1.7", form: true, afRef: true}, nil},
		{"hybrid", pdfSpec{version: "1.5", hybrid: true}, nil},
		{"incremental-update", pdfSpec{version: "1.4", update: true}, nil},
		{"visible-page2-indirect-annots", pdfSpec{version: "1.7", form: true}, &pades.Visible{Page: 2, X: 300, Y: 40, W: 220, H: 50}},
		{"visible-page1-unicode", pdfSpec{version: "1.7"}, &pades.Visible{Page: 1, X: 36, Y: 36, W: 180, H: 40}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := writeGen(t, c.name+".pdf", c.spec)
			if have(t, "qpdf") {
				qpdfCheck(t, in) // the fixture itself is sound
			}
			o := pades.Options{Name: "Zoë Signer", Reason: "Approved (final)", Location: "Paris", ContactInfo: "ops@example.com",
				Time: time.Date(2026, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600)), Visible: c.vis}
			out := signAndCheck(t, in, o, 1)
			sigs, _ := pades.Verify(out)
			s := sigs[0]
			if s.Name != o.Name || s.Reason != o.Reason || s.Location != o.Location || !s.Time.Equal(o.Time) {
				t.Errorf("signature fields = %+v", s)
			}
			if c.spec.form {
				af, err := pades.AcroFormOf(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"/DR", "/DA", "/NeedAppearances true", "9 0 R", "/SigFlags 3"} {
					if !strings.Contains(af, want) {
						t.Errorf("AcroForm lost %q: %s", want, af)
					}
				}
			}
			cat, err := pades.CatalogOf(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"/Lang (de-DE)", "/MarkInfo << /Marked true >>", "/Pages 2 0 R"} {
				if !strings.Contains(cat, want) {
					t.Errorf("catalog lost %q: %s", want, cat)
				}
			}
			if c.vis != nil && c.vis.Page == 2 {
				annots, err := pades.AnnotsOf(out, 2)
				if err != nil {
					t.Fatal(err)
				}
				if len(annots) != 2 || !strings.Contains(annots[0], "/Link") || !strings.Contains(annots[1], "/Widget") {
					t.Errorf("page 2 annotations = %q", annots)
				}
			}
		})
	}
}

func TestObjectStreams(t *testing.T) {
	qpdfOr(t)
	files := corpusPDFs(t)
	for _, f := range []string{files[0], files[len(files)-1]} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			x := filepath.Join(t.TempDir(), "xref-stream.pdf")
			qpdf(t, "--object-streams=generate", f, x)
			out := signAndCheck(t, x, pades.Options{}, existingSigs(t, x)+1)
			// The update after a stream-only file is a stream too.
			if kind, err := pades.LastXrefKind(out); err != nil || kind != "stream" {
				t.Errorf("last xref kind = %q, %v; want stream", kind, err)
			}
			// And a second signature on top keeps the first valid.
			out2 := filepath.Join(t.TempDir(), "twice.pdf")
			p := sharedPKI(t)
			if err := pades.SignFile(context.Background(), out, out2, p.Key, p.Chain, pades.Options{Visible: &pades.Visible{Page: 1, X: 20, Y: 20, W: 200, H: 40}}); err != nil {
				t.Fatal(err)
			}
			checkSigned(t, out, out2, existingSigs(t, x)+2, false)
		})
	}
}

func TestSignTwiceClassic(t *testing.T) {
	in := writeGen(t, "form.pdf", pdfSpec{version: "1.6", form: true})
	once := signAndCheck(t, in, pades.Options{}, 1)
	p := testpki.New(t, true) // second signer uses ECDSA P-256
	twice := filepath.Join(t.TempDir(), "twice.pdf")
	if err := pades.SignFile(context.Background(), once, twice, p.Key, p.Chain, pades.Options{}); err != nil {
		t.Fatal(err)
	}
	checkSigned(t, once, twice, 2, false)
	sigs, _ := pades.Verify(twice)
	if sigs[0].CoversWholeDocument || !sigs[1].CoversWholeDocument {
		t.Errorf("coverage = %v, %v", sigs[0].CoversWholeDocument, sigs[1].CoversWholeDocument)
	}
	if kind, _ := pades.LastXrefKind(twice); kind != "table" {
		t.Errorf("last xref kind = %q, want table", kind)
	}
	af, _ := pades.AcroFormOf(twice)
	if !strings.Contains(af, "Signature1") && !strings.Contains(af, "R") {
		t.Errorf("AcroForm = %s", af)
	}
}

func TestTimestamped(t *testing.T) {
	p := sharedPKI(t)
	in := corpusPDFs(t)[0]
	tsa := &cms.TSA{URL: p.TSA(t)}
	out := signAndCheck(t, in, pades.Options{Timestamper: tsa}, existingSigs(t, in)+1)
	// pdfsig prints nothing about timestamps; pdfcpu's full report does.
	if have(t, "pdfcpu") {
		res, _ := pdfcpu("signatures", "validate", "-a", "-f", out)
		if !regexp.MustCompile(`Timestamp:\s+\d{4}-\d\d-\d\d`).MatchString(res) {
			t.Errorf("pdfcpu sees no timestamp:\n%s", res)
		}
	}
}

func TestTamperDetected(t *testing.T) {
	in := writeGen(t, "plain.pdf", pdfSpec{version: "1.7"})
	out := signAndCheck(t, in, pades.Options{}, 1)
	b, _ := os.ReadFile(out)
	i := strings.Index(string(b), "Hello, signer")
	b[i] = 'J' // inside the first signed range
	bad := filepath.Join(t.TempDir(), "tampered.pdf")
	os.WriteFile(bad, b, 0o600)
	sigs, err := pades.Verify(bad)
	if err != nil || len(sigs) != 1 || sigs[0].Err == nil {
		t.Fatalf("Verify of a tampered file = %+v, %v; want a signature error", sigs, err)
	}
	if have(t, "pdfsig") {
		res, _ := exec.Command("pdfsig", bad).CombinedOutput()
		if strings.Contains(string(res), "Signature is Valid.") {
			t.Errorf("pdfsig accepts a tampered file:\n%s", res)
		}
	}
	if have(t, "pdfcpu") {
		res, _ := pdfcpu("signatures", "validate", "-a", bad)
		if !strings.Contains(res, "signature is invalid") {
			t.Errorf("pdfcpu accepts a tampered file:\n%s", res)
		}
	}
}

func TestRefused(t *testing.T) {
	dir := t.TempDir()
	corpus := corpusPDFs(t)
	orig, err := os.ReadFile(corpus[0])
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	cases := []struct {
		name    string
		path    string
		max     int64
		code    signagent.Code
		needCmd string
	}{
		{"empty", write("empty.pdf", nil), 0, signagent.CodeEmptyFile, ""},
		{"text", write("notes.pdf", []byte("just some notes\nnot a PDF\n")), 0, signagent.CodeNotAPDF, ""},
		{"truncated", write("half.pdf", orig[:len(orig)/2]), 0, signagent.CodeCorruptPDF, ""},
		{"bad-startxref", write("bad.pdf", []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\nstartxref\n999999\n%%EOF\n")), 0, signagent.CodeCorruptPDF, ""},
		{"xref-points-nowhere", write("nowhere.pdf", []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\nstartxref\n9\n%%EOF\n")), 0, signagent.CodeCorruptPDF, ""},
		{"too-large", corpus[0], 1000, signagent.CodeTooLarge, ""},
		{"bad-xref-entry", write("badentry.pdf", badEntry(t)), 0, signagent.CodeCorruptPDF, ""},
		{"aes256", filepath.Join(dir, "aes.pdf"), 0, signagent.CodeEncryptedPDF, "qpdf"},
		{"rc4-128", filepath.Join(dir, "rc4.pdf"), 0, signagent.CodeEncryptedPDF, "qpdf"},
	}
	if have(t, "qpdf") {
		qpdf(t, "--encrypt", "", "owner", "256", "--", corpus[0], filepath.Join(dir, "aes.pdf"))
		qpdf(t, "--allow-weak-crypto", "--encrypt", "", "owner", "128", "--use-aes=n", "--", corpus[0], filepath.Join(dir, "rc4.pdf"))
	}
	p := sharedPKI(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needCmd != "" && !have(t, c.needCmd) {
				t.Skipf("%s not installed; CI installs it", c.needCmd)
			}
			out := filepath.Join(t.TempDir(), "out.pdf")
			err := pades.SignFile(context.Background(), c.path, out, p.Key, p.Chain, pades.Options{MaxSize: c.max})
			var se *signagent.Error
			if !errors.As(err, &se) || se.Kind != signagent.KindDocument || se.Code != c.code || se.Hint == "" {
				t.Fatalf("err = %#v (%v), want document error %s with a hint", err, err, c.code)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output left behind: %v", err)
			}
		})
	}
}

func TestVisiblePageMissing(t *testing.T) {
	in := writeGen(t, "two.pdf", pdfSpec{version: "1.7"})
	p := sharedPKI(t)
	out := filepath.Join(t.TempDir(), "out.pdf")
	err := pades.SignFile(context.Background(), in, out, p.Key, p.Chain, pades.Options{Visible: &pades.Visible{Page: 3, W: 10, H: 10}})
	if signagent.KindOf(err) != signagent.KindDocument {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output left behind")
	}
}

// TestSignOverStaleOutput signs into output files that already hold bytes,
// longer and shorter than the result: the output must be exactly what a
// fresh file gets (PKCS#1 v1.5 signatures are deterministic).
func TestSignOverStaleOutput(t *testing.T) {
	in := writeGen(t, "stale.pdf", pdfSpec{version: "1.7", form: true})
	p := sharedPKI(t)
	o := pades.Options{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	fresh := filepath.Join(t.TempDir(), "fresh.pdf")
	if err := pades.SignFile(context.Background(), in, fresh, p.Key, p.Chain, o); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, stale := range []int{len(want) * 3, len(want) / 2} {
		out := filepath.Join(t.TempDir(), "out.pdf")
		if err := os.WriteFile(out, bytes.Repeat([]byte("x"), stale), 0o600); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		fo, err := os.OpenFile(out, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = pades.Sign(context.Background(), fi, fo, p.Key, p.Chain, o)
		fi.Close()
		fo.Close()
		if err != nil {
			t.Fatalf("stale %d bytes: %v", stale, err)
		}
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Fatalf("over %d stale bytes: output differs from a fresh signing (%d vs %d bytes)", stale, len(got), len(want))
		}
	}
	checkSigned(t, in, fresh, 1, false)
}

// badEntry is a generated PDF whose cross-reference entry for the catalog
// (the first in use) is damaged.
func badEntry(t *testing.T) []byte {
	b := buildPDF(pdfSpec{version: "1.7"})
	x := bytes.LastIndex(b, []byte("\nxref\n"))
	i := bytes.Index(b[x:], []byte(" 00000 n \n"))
	if x < 0 || i < 0 {
		t.Fatal("no cross-reference entry in the generated PDF")
	}
	b[x+i+7] = 'x'
	return b
}

// TestXrefLayouts signs PDFs whose classic cross-reference tables are laid
// out in the other standard ways, in a non-standard one (19-byte entries),
// and long enough to lie beyond the end of the file read first.
func TestXrefLayouts(t *testing.T) {
	cases := []struct {
		name string
		spec pdfSpec
	}{
		{"crlf", pdfSpec{version: "1.4", eol: "\r\n"}},
		{"space-cr", pdfSpec{version: "1.4", eol: " \r"}},
		{"19-byte-entries", pdfSpec{version: "1.4", eol: "\n", form: true}},
		{"long-table", pdfSpec{version: "1.7", filler: 1500, form: true}},
		{"long-table-updated", pdfSpec{version: "1.7", filler: 1500, update: true}},
		{"long-19-byte-entries", pdfSpec{version: "1.7", filler: 1500, eol: "\n", update: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := writeGen(t, c.name+".pdf", c.spec)
			out := signAndCheck(t, in, pades.Options{}, 1)
			if cat, err := pades.CatalogOf(out); err != nil || !strings.Contains(cat, "/AcroForm") {
				t.Errorf("catalog = %s, %v", cat, err)
			}
		})
	}
}
