package pades_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signer/pades"
)

// oddCorpusPDF is a real e-invoice with an incremental update and a
// classic cross-reference table.
const oddCorpusPDF = "../../testdata/corpus/XML-Rechnung/FX/EN16931_Einfach.pdf"

func readOdd(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(oddCorpusPDF)
	if err != nil {
		t.Skipf("corpus PDF: %v", err)
	}
	return b
}

// readable fails the test unless qpdf and poppler read in: what a careful
// reader accepts is what we must sign.
func readable(t *testing.T, in string) {
	t.Helper()
	if have(t, "qpdf") {
		// Exit status 3 is "succeeded with warnings" (a recovered file).
		if out, err := exec.Command("qpdf", "--check", in).CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("qpdf cannot read the input: %v\n%s", err, out)
			}
		}
	}
	if have(t, "pdfinfo") {
		if out, err := exec.Command("pdfinfo", in).CombinedOutput(); err != nil {
			t.Fatalf("poppler cannot read the input: %v\n%s", err, out)
		}
	}
}

// PDFs with bytes around the document that qpdf and poppler skip are
// signed; the output starts with the input, its signature covers every
// byte, and pdfsig, qpdf and pdfcpu accept it.
func TestSignsOddButReadablePDFs(t *testing.T) {
	orig := readOdd(t)
	junk := []byte("From: scanner@example.com\r\nX-Junk: \x00\x01\xfe\xff\r\n\r\n")
	garbage := bytes.Repeat([]byte("garbage \x00\xff after the end\n"), 2000) // 50 KB, past any tail read
	cases := map[string][]byte{
		"garbage after %%EOF":       append(bytes.Clone(orig), garbage...),
		"short garbage after":       append(bytes.Clone(orig), "\x00\x00\x1a junk"...),
		"many trailing %%EOF":       append(bytes.Clone(orig), bytes.Repeat([]byte("%%EOF\n"), 5000)...),
		"junk before the header":    append(bytes.Clone(junk), orig...),
		"junk before and after":     append(append(bytes.Clone(junk), orig...), garbage...),
		"padding before the header": append(bytes.Repeat([]byte{0}, 900), orig...),
	}
	dir := t.TempDir()
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pdf")
			if err := os.WriteFile(in, b, 0o600); err != nil {
				t.Fatal(err)
			}
			readable(t, in)
			out := signAndCheck(t, in, pades.Options{}, existingSigs(t, in)+1)
			if !strings.Contains(name, "junk") && !strings.Contains(name, "padding") {
				return
			}
			// The bytes before the header are signed too: pdfsig and our
			// verifier read the /ByteRange as offsets in the file.
			signed, _ := os.ReadFile(out)
			signed[3] ^= 0x20
			bad := filepath.Join(t.TempDir(), "tampered.pdf")
			os.WriteFile(bad, signed, 0o600)
			if sigs, err := pades.Verify(bad); err != nil || sigs[len(sigs)-1].Err == nil {
				t.Errorf("Verify accepts a change before the header: %v", err)
			}
			if have(t, "pdfsig") {
				res, _ := exec.Command("pdfsig", bad).CombinedOutput()
				if strings.Contains(string(res), "Signature is Valid.") {
					t.Errorf("pdfsig accepts a change before the header:\n%s", res)
				}
			}
		})
	}
}

// A stream-only file (offsets in a cross-reference stream) with junk
// before its header: the update's stream counts offsets from the header.
// pdfcpu (v0.15.0) shifts only the newest section's offsets by the header's
// position, not those reached through /Prev, so it cannot read any updated
// file with junk before its header (the classic corpus file needs its
// "repair" even unsigned); qpdf and poppler read them in full.
func TestSignsJunkBeforeStreamPDF(t *testing.T) {
	qpdfOr(t)
	x := filepath.Join(t.TempDir(), "stream.pdf")
	qpdf(t, "--object-streams=generate", oddCorpusPDF, x)
	b, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "junk-stream.pdf")
	os.WriteFile(in, append([]byte("junk line\n"), b...), 0o600)
	readable(t, in)
	out := signAndCheck(t, in, pades.Options{}, existingSigs(t, in)+1)
	if kind, err := pades.LastXrefKind(out); err != nil || kind != "stream" {
		t.Errorf("last xref kind = %q, %v; want stream", kind, err)
	}
}

// Inputs that cannot be signed safely are refused as CORRUPT_PDF, with
// the real problem named.
func TestRefusesUnsignablePDFs(t *testing.T) {
	orig := readOdd(t)
	size := []byte("/Size 28\n")
	if !bytes.Contains(orig, size) {
		t.Fatalf("%s: no %q in the last trailer", oddCorpusPDF, size)
	}
	replace := func(old, new string) []byte {
		if len(old) != len(new) || !bytes.Contains(orig, []byte(old)) {
			t.Fatalf("bad mutation %q -> %q", old, new)
		}
		return bytes.ReplaceAll(orig, []byte(old), []byte(new))
	}
	cases := []struct {
		name string
		in   []byte
		msg  string // in the error message
	}{
		// An update after the last startxref, whose own startxref is lost:
		// signing on top of the revision before would drop it.
		{"orphan update", append(bytes.Clone(orig), "\n18 0 obj\n<</Title (changed)>>\nendobj\n"...), "update is incomplete"},
		// Readers give up on object numbers past 8,388,607: pdfsig would
		// find no signature in an update numbered from here.
		{"size 2147483653", bytes.Replace(orig, size, []byte("/Size 2147483653\n"), 1), "/Size"},
		{"size at the limit", bytes.Replace(orig, size, []byte("/Size 8388608\n"), 1), "limit"},
		// No page for the invisible signature's widget.
		{"no Kids", replace("/Kids", "/Kidz"), "page tree"},
		{"empty Kids", replace("/Kids [11 0 R 13 0 R]", "/Kids [             ]"), "page tree"},
		{"kids are not pages", replace("/Type /Page\n", "/Type /Pages"), "page tree"},
	}
	p := sharedPKI(t)
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".pdf")
			os.WriteFile(in, c.in, 0o600)
			out := filepath.Join(t.TempDir(), "out.pdf")
			err := pades.SignFile(context.Background(), in, out, p.Key, p.Chain, pades.Options{})
			if err == nil && have(t, "pdfsig") {
				res, _ := exec.Command("pdfsig", out).CombinedOutput()
				t.Logf("signed; pdfsig finds %d valid signatures:\n%s", strings.Count(string(res), "Signature is Valid."), res)
			}
			if signagent.CodeOf(err) != signagent.CodeCorruptPDF || signagent.KindOf(err) != signagent.KindDocument ||
				!strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want CORRUPT_PDF naming %q", err, c.msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output left behind: %v", err)
			}
		})
	}
}

// A large /Size under the limit is signed, and pdfsig finds the signature.
func TestSignsLargeSize(t *testing.T) {
	orig := readOdd(t)
	in := filepath.Join(t.TempDir(), "large-size.pdf")
	os.WriteFile(in, bytes.Replace(orig, []byte("/Size 28\n"), []byte("/Size 100000\n"), 1), 0o600)
	signAndCheck(t, in, pades.Options{}, existingSigs(t, in)+1)
}
