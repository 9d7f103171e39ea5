package xades

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
)

const corpus = "../../testdata/corpus"

func corpusXML(t testing.TB) []string {
	var files []string
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".xml") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Skipf("corpus of XML e-invoices not found at %s: %v", corpus, err)
	}
	return files
}

// xmlsec1 runs the independent verifier on path; it returns nil when the
// signature is valid and trusted through caPath.
func xmlsec1(t testing.TB, path, caPath string) error {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Skip("xmlsec1 not installed (apt-get install xmlsec1); CI has it")
	}
	out, err := exec.Command(bin, "--verify", "--trusted-pem", caPath,
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", path).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// wellFormed checks path with the standard library's strict XML decoder.
func wellFormed(t testing.TB, path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return depth == 0 && roots == 1
		}
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

func signFile(t testing.TB, in string, p *testpki.PKI, o Options) []byte {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := Sign(context.Background(), f, &out, p.Key, p.Chain, o); err != nil {
		t.Fatalf("sign %s: %v", in, err)
	}
	return out.Bytes()
}

func TestCorpusSignsAndVerifies(t *testing.T) {
	files := corpusXML(t)
	for _, useECDSA := range []bool{false, true} {
		p := testpki.New(t, useECDSA)
		name := "rsa"
		if useECDSA {
			name = "ecdsa"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			when := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
			for i, in := range files {
				if testing.Short() && useECDSA && i%5 != 0 {
					continue // -short: every fifth file with ECDSA, all with RSA
				}
				t.Run(filepath.Base(in), func(t *testing.T) {
					t.Parallel()
					checkCorpusFile(t, p, in, filepath.Join(dir, filepath.Base(in)), when)
				})
			}
		})
	}
}

func checkCorpusFile(t *testing.T, p *testpki.PKI, in, out string, when time.Time) {
	if !wellFormed(t, in) {
		// The corpus holds a truncated invoice: it must be refused.
		f, _ := os.Open(in)
		err := Sign(context.Background(), f, io.Discard, p.Key, p.Chain, Options{})
		f.Close()
		if signagent.CodeOf(err) != signagent.CodeNotXML {
			t.Errorf("%s is not well-formed, Sign returned %v, want NOT_XML", in, err)
		}
		return
	}
	signed := signFile(t, in, p, Options{Time: when, Location: "Düsseldorf"})
	if err := os.WriteFile(out, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := xmlsec1(t, out, p.CAPEM); err != nil {
		t.Fatalf("xmlsec1 rejects %s: %v", in, err)
	}
	infos, err := Verify(bytes.NewReader(signed))
	if err != nil || len(infos) != 1 || infos[0].Err != nil {
		t.Fatalf("Verify %s: %v %+v", in, err, infos)
	}
	if !infos[0].Signer.Equal(p.Chain[0]) || !infos[0].SigningTime.Equal(when) {
		t.Errorf("Verify %s: signer %v time %v", in, infos[0].Signer.Subject, infos[0].SigningTime)
	}
	orig, _ := os.ReadFile(in)
	if !bytes.HasPrefix(signed, orig[:bytes.LastIndex(orig, []byte("</"))]) {
		t.Errorf("%s: the input bytes before the signature were not preserved", in)
	}
}

func TestTamperedContentFails(t *testing.T) {
	files := corpusXML(t)
	p := testpki.New(t, false)
	dir := t.TempDir()
	in := files[0]
	signed := signFile(t, in, p, Options{})
	good := filepath.Join(dir, "good.xml")
	os.WriteFile(good, signed, 0o600)
	if err := xmlsec1(t, good, p.CAPEM); err != nil {
		t.Fatalf("xmlsec1 rejects the untouched output: %v", err)
	}
	out, _ := exec.Command("xmlsec1", "--verify", "--trusted-pem", p.CAPEM,
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", good).CombinedOutput()
	if !strings.Contains(string(out), "SignedInfo References (ok/all): 2/2") {
		t.Errorf("xmlsec1 did not check both references:\n%s", out)
	}

	cases := map[string]func([]byte) []byte{
		// a letter of the invoice content, before the signature
		"content": func(b []byte) []byte {
			i := bytes.Index(b, []byte("</")) - 1
			for b[i] < 'A' || b[i] > 'z' {
				i--
			}
			b[i] ^= 0x01
			return b
		},
		// the signing time inside SignedProperties
		"signed properties": func(b []byte) []byte {
			i := bytes.Index(b, []byte("<xades:SigningTime>")) + len("<xades:SigningTime>")
			b[i+3]++ // year 2xx5 -> 2xx6
			return b
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			bad := mutate(bytes.Clone(signed))
			path := filepath.Join(dir, "bad.xml")
			os.WriteFile(path, bad, 0o600)
			if err := xmlsec1(t, path, p.CAPEM); err == nil {
				t.Error("xmlsec1 accepts a tampered document")
			}
			infos, err := Verify(bytes.NewReader(bad))
			if err != nil || len(infos) != 1 || infos[0].Err == nil {
				t.Errorf("Verify accepts a tampered document: %v %+v", err, infos)
			}
		})
	}
}

func TestNotXMLAndEmpty(t *testing.T) {
	p := testpki.New(t, true)
	for in, code := range map[string]signagent.Code{
		"%PDF-1.7 not xml": signagent.CodeNotXML,
		"<a><b></a>":       signagent.CodeNotXML,
		"":                 signagent.CodeEmptyFile,
		"<?xml version='1.0' encoding='EBCDIC'?><a/>": signagent.CodeNotXML,
	} {
		var out bytes.Buffer
		err := Sign(context.Background(), strings.NewReader(in), &out, p.Key, p.Chain, Options{})
		if signagent.CodeOf(err) != code || signagent.KindOf(err) != signagent.KindDocument {
			t.Errorf("Sign(%q) = %v, want %s document error", in, err, code)
		}
		if out.Len() != 0 {
			t.Errorf("Sign(%q) wrote output on error", in)
		}
	}
	if _, err := Verify(strings.NewReader("<a>unsigned</a>")); !errors.Is(err, ErrNoSignature) {
		t.Errorf("Verify(unsigned) = %v, want ErrNoSignature", err)
	}
}

// Small documents exercise what the corpus does not: a self-closing
// document element, ISO-8859-1, default namespace undeclared inside a
// prefixed parent, trailing comments and processing instructions.
func TestEdgeDocuments(t *testing.T) {
	p := testpki.New(t, false)
	dir := t.TempDir()
	docs := map[string]string{
		"selfclosing": "<?xml version=\"1.0\"?><a xmlns=\"urn:x\" k=\"v\tw\" j=\"&#9;\"/>",
		"attrspace":   "<a k=\"line1\nline2\tx\r\ny\" j='&#10;'>t</a>",
		"latin1":      "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<r>Stra\xdfe M\xfcller</r>\n",
		"undeclare":   `<p:r xmlns:p="urn:p" xmlns="urn:d"><p:x><y xmlns="">t</y></p:x><z/></p:r>`,
		"trailing":    "<?pi one?>\n<!-- c -->\n<r a=\"1\" b='x&#9;y'>\r\n<![CDATA[<&>]]>\n</r >\n<!-- end -->\n<?pi two?>\n",
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Sign(context.Background(), strings.NewReader(doc), &out, p.Key, p.Chain, Options{Location: "Zürich"}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".xml")
			os.WriteFile(path, out.Bytes(), 0o600)
			if err := xmlsec1(t, path, p.CAPEM); err != nil {
				t.Errorf("xmlsec1 rejects it: %v\n%s", err, out.Bytes())
			}
			infos, err := Verify(bytes.NewReader(out.Bytes()))
			if err != nil || len(infos) != 1 || infos[0].Err != nil {
				t.Errorf("Verify: %v %+v", err, infos)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	p := testpki.New(b, false)
	in := filepath.Join(corpus, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml")
	data, err := os.ReadFile(in)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Sign(context.Background(), bytes.NewReader(data), io.Discard, p.Key, p.Chain, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	p := testpki.New(b, false)
	signed := signFile(b, filepath.Join(corpus, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml"), p, Options{})
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	for b.Loop() {
		if infos, err := Verify(bytes.NewReader(signed)); err != nil || infos[0].Err != nil {
			b.Fatal(err, infos)
		}
	}
}
