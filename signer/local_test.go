package signer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signing"
)

const corpus = "../testdata/corpus"

func corpusFile(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(corpus, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s missing: %v", rel, err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) string {
	t.Helper()
	return writeFile(t, to, readFile(t, from), 0o600)
}

func need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not installed (CI has it): cannot check with the independent verifier", bin)
	}
	return p
}

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func newLocal(t *testing.T, p *testpki.PKI, tsa string) *Local {
	t.Helper()
	l, err := NewLocal(LocalConfig{Name: "local", Certificate: p.ChainPEM, KeyFile: p.KeyPEM, TSAURL: tsa,
		Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// independent checks a signed output with the verifier made for its format.
func independent(t *testing.T, p *testpki.PKI, typ signing.Type, out, content string) error {
	t.Helper()
	var s string
	var err error
	switch typ {
	case signing.TypePAdES:
		s, err = run(t, need(t, "pdfsig"), out)
		if err == nil && (!strings.Contains(s, "Signature is Valid.") || !strings.Contains(s, "ETSI.CAdES.detached")) {
			err = errors.New("pdfsig does not report a valid ETSI.CAdES.detached signature")
		}
	case signing.TypeXAdES:
		s, err = run(t, need(t, "xmlsec1"), "--verify", "--trusted-pem", p.CAPEM,
			"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", out)
	case signing.TypeCAdES:
		s, err = run(t, need(t, "openssl"), "cms", "-verify", "-binary", "-inform", "DER", "-in", out,
			"-content", content, "-CAfile", p.CAPEM, "-purpose", "any", "-out", os.DevNull)
	}
	if err != nil {
		return errors.New(s)
	}
	return nil
}

func flipByte(t *testing.T, path string, at func([]byte) int) {
	t.Helper()
	b := readFile(t, path)
	b[at(b)] ^= 0x01
	writeFile(t, path, b, 0o600)
}

func TestSubmitMixedBatch(t *testing.T) {
	p := testpki.New(t, false)
	l := newLocal(t, p, "")
	in, outDir := t.TempDir(), t.TempDir()

	pdf := copyFile(t, corpusFile(t, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf"), filepath.Join(in, "invoice.pdf"))
	xml := copyFile(t, corpusFile(t, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml"), filepath.Join(in, "invoice.xml"))
	txt := writeFile(t, filepath.Join(in, "notes.txt"), []byte("payment terms: 30 days\n"), 0o600)
	empty := writeFile(t, filepath.Join(in, "empty.pdf"), nil, 0o600)
	notPDF := writeFile(t, filepath.Join(in, "fake.pdf"), []byte("this is not a PDF at all"), 0o600)
	notXML := writeFile(t, filepath.Join(in, "fake.xml"), []byte("%PDF-1.4 not xml"), 0o600)
	encrypted := filepath.Join(in, "encrypted.pdf")
	if bin, err := exec.LookPath("qpdf"); err == nil {
		if s, err := run(t, bin, "--encrypt", "", "owner", "256", "--", pdf, encrypted); err != nil {
			t.Fatalf("qpdf --encrypt: %v\n%s", err, s)
		}
	} else {
		t.Log("qpdf not installed: the encrypted PDF case is skipped")
		encrypted = ""
	}

	type want struct {
		path string
		typ  signing.Type
		code signagent.Code // "" for success
	}
	cases := []want{
		{pdf, signing.TypePAdES, ""},
		{xml, signing.TypeXAdES, ""},
		{txt, signing.TypeCAdES, ""},
		{empty, signing.TypePAdES, signagent.CodeEmptyFile},
		{notPDF, signing.TypePAdES, signagent.CodeNotAPDF},
		{notXML, signing.TypeXAdES, signagent.CodeNotXML},
	}
	if encrypted != "" {
		cases = append(cases, want{encrypted, signing.TypePAdES, signagent.CodeEncryptedPDF})
	}
	b := &signing.Batch{Ref: "batch-1"}
	for _, c := range cases {
		name := filepath.Base(c.path)
		b.Docs = append(b.Docs, signing.Doc{Ref: "doc-" + name, Name: name, Path: c.path,
			Out: filepath.Join(outDir, signing.OutputName(name, c.typ)), Opts: signing.Options{Type: signing.TypeAuto, Reason: "Invoice", Location: "Lisboa"}})
	}
	op, err := l.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done || len(op.Results) != len(cases) || op.Ref != b.Ref {
		t.Fatalf("operation = %+v", op)
	}
	for i, c := range cases {
		d, r := b.Docs[i], op.Results[i]
		t.Run(d.Name, func(t *testing.T) {
			if r.Ref != d.Ref {
				t.Fatalf("result %d is for %s, want %s", i, r.Ref, d.Ref)
			}
			if c.code != "" {
				if signagent.CodeOf(r.Err) != c.code || signagent.KindOf(r.Err) != signagent.KindDocument {
					t.Errorf("err = %v, want %s document error", r.Err, c.code)
				}
				if _, err := os.Stat(d.Out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a failed document left %s behind", d.Out)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if err := independent(t, p, c.typ, d.Out, d.Path); err != nil {
				t.Fatalf("independent verifier rejects %s: %v", d.Out, err)
			}
			vs, err := VerifyFile(context.Background(), verifyPath(t, c.typ, d))
			if err != nil || len(vs) != 1 || !vs[0].Valid || vs[0].Type != c.typ || !strings.Contains(vs[0].Signer, "Signagent Test Signer") {
				t.Fatalf("VerifyFile = %+v, %v", vs, err)
			}
			// A PDF comes with the digests taken while it was signed, which
			// are the file's, and the agent's check accepts it with them.
			if (r.Written != nil) != (c.typ == signing.TypePAdES) {
				t.Fatalf("Written = %+v for a %s output", r.Written, c.typ)
			}
			if r.Written != nil {
				out, _ := os.ReadFile(d.Out)
				orig, _ := os.ReadFile(d.Path)
				whole, sum := sha256.Sum256(out), sha256.Sum256(orig)
				got, err := CheckOutput(c.typ, d.Out, nil, int64(len(orig)), hex.EncodeToString(sum[:]), r.Written)
				if err != nil || got != hex.EncodeToString(whole[:]) {
					t.Fatalf("CheckOutput with the signer's digests = %s, %v; want %x", got, err, whole)
				}
			}

			// One flipped byte of signed content makes both verifiers fail.
			switch c.typ {
			case signing.TypePAdES:
				flipByte(t, d.Out, func(b []byte) int { return strings.Index(string(b), "/Type") + 2 })
			case signing.TypeXAdES:
				flipByte(t, d.Out, func(b []byte) int { return strings.Index(string(b), "<cbc:ID>") + 9 })
			case signing.TypeCAdES:
				flipByte(t, d.Path, func(b []byte) int { return 3 })
			}
			if err := independent(t, p, c.typ, d.Out, d.Path); err == nil {
				t.Error("independent verifier accepts a flipped byte")
			}
			vs, err = VerifyFile(context.Background(), verifyPath(t, c.typ, d))
			if err == nil && (len(vs) != 1 || vs[0].Valid || vs[0].Err == nil || vs[0].Detail == "") {
				t.Errorf("VerifyFile after a flipped byte = %+v", vs)
			}
		})
	}
}

// verifyPath is what a user gives `signagent verify`: the signed document,
// or for CAdES the .p7s beside its content.
func verifyPath(t *testing.T, typ signing.Type, d signing.Doc) string {
	if typ != signing.TypeCAdES {
		return d.Out
	}
	p := filepath.Join(filepath.Dir(d.Out), d.Name)
	copyFile(t, d.Path, p)
	return d.Out
}

func TestTimestamps(t *testing.T) {
	p := testpki.New(t, true)
	in, out := t.TempDir(), t.TempDir()
	txt := writeFile(t, filepath.Join(in, "a.txt"), []byte("content"), 0o600)
	xml := writeFile(t, filepath.Join(in, "a.xml"), []byte("<a>content</a>"), 0o600)

	noTSA := newLocal(t, p, "")
	_, err := noTSA.SignFile(context.Background(), txt, filepath.Join(out, "a.txt.p7s"), "a.txt", signing.Options{Timestamp: true})
	if signagent.KindOf(err) != signagent.KindConfig || signagent.HintOf(err) == "" {
		t.Errorf("timestamp without a TSA: %v, want a configuration error with a hint", err)
	}

	l := newLocal(t, p, p.TSA(t))
	sig := filepath.Join(in, "a.txt.p7s")
	typ, err := l.SignFile(context.Background(), txt, sig, "a.txt", signing.Options{Timestamp: true})
	if err != nil || typ != signing.TypeCAdES {
		t.Fatalf("SignFile = %s, %v", typ, err)
	}
	vs, err := VerifyFile(context.Background(), sig)
	if err != nil || len(vs) != 1 || !vs[0].Valid || !vs[0].Timestamped {
		t.Fatalf("VerifyFile = %+v, %v", vs, err)
	}
	// The timestamp's own time and authority, apart from the claimed time.
	if ts := vs[0].TimestampTime; ts.IsZero() || time.Since(ts).Abs() > time.Hour || vs[0].TSA == "" {
		t.Errorf("timestamp time %v by %q, want now by the test TSA", ts, vs[0].TSA)
	}
	signedXML := filepath.Join(out, "a.xml")
	if _, err = l.SignFile(context.Background(), xml, signedXML, "a.xml", signing.Options{Timestamp: true}); err != nil {
		t.Fatal(err)
	}
	vs, err = VerifyFile(context.Background(), signedXML)
	if err != nil || len(vs) != 1 || !vs[0].Valid || !vs[0].Timestamped {
		t.Fatalf("VerifyFile(XAdES-B-T) = %+v, %v", vs, err)
	}
	if err := independent(t, p, signing.TypeXAdES, signedXML, ""); err != nil {
		t.Errorf("xmlsec1 rejects XAdES-B-T: %v", err)
	}
	// Changing the timestamped signature value breaks the timestamp check
	// even when the signature itself is left alone: swap the token for one
	// over other bytes.
	other := filepath.Join(out, "b.xml")
	if _, err = l.SignFile(context.Background(), xml, other, "a.xml", signing.Options{Timestamp: true}); err != nil {
		t.Fatal(err)
	}
	tokenOf := func(b []byte) string {
		s := string(b)
		i := strings.Index(s, "<xades:EncapsulatedTimeStamp>")
		j := strings.Index(s, "</xades:EncapsulatedTimeStamp>")
		return s[i:j]
	}
	a, bb := readFile(t, signedXML), readFile(t, other)
	swapped := strings.Replace(string(a), tokenOf(a), tokenOf(bb), 1)
	writeFile(t, signedXML, []byte(swapped), 0o600)
	vs, err = VerifyFile(context.Background(), signedXML)
	if err != nil || len(vs) != 1 || vs[0].Valid {
		t.Errorf("VerifyFile with another signature's timestamp = %+v, %v", vs, err)
	}
}

func TestSignFileLimitsAndTypes(t *testing.T) {
	p := testpki.New(t, false)
	in, out := t.TempDir(), t.TempDir()
	big := writeFile(t, filepath.Join(in, "big.txt"), make([]byte, 2048), 0o600)
	l, err := NewLocal(LocalConfig{Certificate: p.ChainPEM, KeyFile: p.KeyPEM, MaxSize: 1024, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.SignFile(context.Background(), big, filepath.Join(out, "big.txt.p7s"), "big.txt", signing.Options{})
	if signagent.CodeOf(err) != signagent.CodeTooLarge {
		t.Errorf("oversized: %v, want TOO_LARGE", err)
	}
	_, err = l.SignFile(context.Background(), filepath.Join(in, "gone.txt"), filepath.Join(out, "gone.txt.p7s"), "gone.txt", signing.Options{})
	if signagent.CodeOf(err) != signagent.CodeUnreadable {
		t.Errorf("vanished input: %v, want UNREADABLE", err)
	}
	small := writeFile(t, filepath.Join(in, "small.xml"), []byte("<a/>"), 0o600)
	typ, err := l.SignFile(context.Background(), small, filepath.Join(out, "small.xml.p7s"), "small.xml", signing.Options{Type: signing.TypeCAdES})
	if err != nil || typ != signing.TypeCAdES {
		t.Errorf("forced CAdES on XML: %s, %v", typ, err)
	}
	_, err = l.SignFile(context.Background(), small, filepath.Join(out, "x"), "small.xml", signing.Options{Type: "jades"})
	if signagent.CodeOf(err) != signagent.CodeUnsupported {
		t.Errorf("unknown type: %v, want UNSUPPORTED_TYPE", err)
	}
}

func TestNewLocalErrors(t *testing.T) {
	p := testpki.New(t, false)
	// The testpki certificate is valid from an hour ago for a day.
	_, err := NewLocal(LocalConfig{Certificate: p.ChainPEM, KeyFile: p.KeyPEM, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
	wantConfigErr(t, err, "expired")
	_, err = NewLocal(LocalConfig{Certificate: "dev", Logger: slog.New(slog.DiscardHandler)})
	wantConfigErr(t, err, "data directory")
	_, err = NewLocal(LocalConfig{Logger: slog.New(slog.DiscardHandler)})
	wantConfigErr(t, err, "no certificate")

	l, err := NewLocal(LocalConfig{Name: "dev", Certificate: "dev", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Name() != "dev" || l.Certificate().Subject.CommonName != DevCommonName {
		t.Errorf("dev backend: %s %v", l.Name(), l.Certificate().Subject)
	}
	in := writeFile(t, filepath.Join(t.TempDir(), "a.xml"), []byte("<a>x</a>"), 0o600)
	out := filepath.Join(t.TempDir(), "a.xml")
	if _, err := l.SignFile(context.Background(), in, out, "a.xml", signing.Options{}); err != nil {
		t.Fatal(err)
	}
	vs, err := VerifyFile(context.Background(), out)
	if err != nil || len(vs) != 1 || !vs[0].Valid || !strings.Contains(vs[0].Detail, "development certificate") {
		t.Errorf("VerifyFile of a dev signature = %+v, %v", vs, err)
	}
}

func TestSubmitCancelled(t *testing.T) {
	p := testpki.New(t, false)
	l := newLocal(t, p, "")
	in, out := t.TempDir(), t.TempDir()
	b := &signing.Batch{Ref: "b"}
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		writeFile(t, filepath.Join(in, n), []byte(n), 0o600)
		b.Docs = append(b.Docs, signing.Doc{Ref: n, Name: n, Path: filepath.Join(in, n), Out: filepath.Join(out, n+".p7s")})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Submit(ctx, b); !errors.Is(err, context.Canceled) {
		t.Errorf("Submit on a cancelled context = %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("outputs left after a cancelled submit: %v", entries)
	}
	if _, err := l.Lookup(context.Background(), b); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("Lookup = %v, want signing.ErrNotFound", err)
	}
}

func TestVerifyFileUnsigned(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"plain.xml": "<a>unsigned</a>",
		"plain.txt": "text",
	} {
		_, err := VerifyFile(context.Background(), writeFile(t, filepath.Join(dir, name), []byte(data), 0o600))
		if err == nil {
			t.Errorf("VerifyFile(%s) succeeded on an unsigned file", name)
		}
	}
	pdf := copyFile(t, corpusFile(t, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf"), filepath.Join(dir, "u.pdf"))
	if _, err := VerifyFile(context.Background(), pdf); !errors.Is(err, ErrUnsigned) {
		t.Errorf("VerifyFile(unsigned pdf) = %v, want ErrUnsigned", err)
	}
	_, err := VerifyFile(context.Background(), writeFile(t, filepath.Join(dir, "lonely.p7s"), []byte("x"), 0o600))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("VerifyFile(.p7s without content) = %v", err)
	}
}

// BenchmarkSubmit signs a batch of 8 mixed documents (4 PDF, 2 XML, 2 text)
// per iteration; docs/s is the figure to compare.
func BenchmarkSubmit(b *testing.B) {
	p := testpki.New(b, false)
	l, err := NewLocal(LocalConfig{Certificate: p.ChainPEM, KeyFile: p.KeyPEM, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	in, out := b.TempDir(), b.TempDir()
	src := map[string]string{
		"pdf": filepath.Join(corpus, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf"),
		"xml": filepath.Join(corpus, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml"),
	}
	batch := &signing.Batch{Ref: "bench"}
	for i, kind := range []string{"pdf", "pdf", "pdf", "pdf", "xml", "xml", "txt", "txt"} {
		name := fmt.Sprintf("doc%d.%s", i, kind)
		data := []byte("some text to sign\n")
		if s, ok := src[kind]; ok {
			if data, err = os.ReadFile(s); err != nil {
				b.Skip(err)
			}
		}
		path := filepath.Join(in, name)
		os.WriteFile(path, data, 0o600)
		typ := signing.TypeAuto.Resolve(name)
		batch.Docs = append(batch.Docs, signing.Doc{Ref: name, Name: name, Path: path, Out: filepath.Join(out, signing.OutputName(name, typ))})
	}
	b.ResetTimer()
	for b.Loop() {
		op, err := l.Submit(context.Background(), batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range op.Results {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Docs))/b.Elapsed().Seconds(), "docs/s")
}

// A batch whose outcome was unknown is submitted again (Lookup proves
// nothing): existing outputs are replaced, not refused.
func TestSubmitAgainReplacesOutputs(t *testing.T) {
	p := testpki.New(t, false)
	l := newLocal(t, p, "")
	in, out := t.TempDir(), t.TempDir()
	pdf := copyFile(t, corpusFile(t, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf"), filepath.Join(in, "a.pdf"))
	xml := writeFile(t, filepath.Join(in, "a.xml"), []byte("<a>x</a>"), 0o600)
	txt := writeFile(t, filepath.Join(in, "a.txt"), []byte("x"), 0o600)
	b := &signing.Batch{Ref: "again"}
	for _, path := range []string{pdf, xml, txt} {
		name := filepath.Base(path)
		outPath := filepath.Join(out, signing.OutputName(name, signing.TypeAuto.Resolve(name)))
		writeFile(t, outPath, []byte("stale partial output"), 0o600)
		b.Docs = append(b.Docs, signing.Doc{Ref: name, Name: name, Path: path, Out: outPath})
	}
	for range 2 {
		op, err := l.Submit(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range op.Results {
			if r.Err != nil {
				t.Fatalf("%s: %v", b.Docs[i].Name, r.Err)
			}
		}
	}
	for _, d := range b.Docs {
		check := d.Out
		if strings.HasSuffix(check, ".p7s") {
			copyFile(t, d.Path, strings.TrimSuffix(check, ".p7s"))
		}
		if vs, err := VerifyFile(context.Background(), check); err != nil || len(vs) != 1 || !vs[0].Valid {
			t.Errorf("%s: VerifyFile = %+v, %v", d.Name, vs, err)
		}
	}
}

// BenchmarkCheckOutput measures what verifying an output before it is
// published costs per document, beside signing that document: for each
// type, Sign and Check run on the same input, so the ratio is read side by
// side in one run.
func BenchmarkCheckOutput(b *testing.B) {
	p := testpki.New(b, false)
	l, err := NewLocal(LocalConfig{Certificate: p.ChainPEM, KeyFile: p.KeyPEM, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for _, c := range []struct{ name, src string }{
		{"pades", filepath.Join(corpus, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf")},
		{"xades", filepath.Join(corpus, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml")},
		{"cades", ""},
	} {
		data := bytes.Repeat([]byte("some text to sign\n"), 4096)
		if c.src != "" {
			if data, err = os.ReadFile(c.src); err != nil {
				b.Skip(err)
			}
		}
		name := "doc." + map[string]string{"pades": "pdf", "xades": "xml", "cades": "txt"}[c.name]
		in := filepath.Join(dir, name)
		os.WriteFile(in, data, 0o600)
		out := in + ".signed"
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		b.Run(c.name+"/sign", func(b *testing.B) {
			for b.Loop() {
				if _, err := l.SignFile(context.Background(), in, out, name, signing.Options{Type: signing.TypeAuto}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/check", func(b *testing.B) {
			for b.Loop() {
				f, _ := os.Open(in)
				_, err := CheckOutput(signing.TypeAuto.Resolve(name), out, f, int64(len(data)), hexSum, nil)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.name != "pades" {
			continue
		}
		// As the agent checks the local signer's PDFs: against the
		// digests taken while signing.
		var w signing.Written
		if _, err := l.signFileHash(context.Background(), in, out, name, signing.Options{Type: signing.TypeAuto}, nil, &w, true); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/check-written", func(b *testing.B) {
			for b.Loop() {
				if _, err := CheckOutput(signing.TypePAdES, out, nil, int64(len(data)), hexSum, &w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
