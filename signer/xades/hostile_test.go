package xades

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
)

// Anything but white space, comments and processing instructions outside
// the one document element makes the input something other than an XML
// document: xmlsec1 refuses to read it, so we must refuse to sign it.
func TestRefusesContentOutsideDocumentElement(t *testing.T) {
	p := testpki.New(t, false)
	for _, in := range []string{
		"<a/><b/>",
		"<a>x</a><b>y</b>",
		"<?xml version=\"1.0\"?>\n<a/>\n<a/>\n",
		"<a/>trailing text",
		"garbage<a/>",
		"<a/>\n<![CDATA[x]]>",
		"<a/><!DOCTYPE a>",
		"<!DOCTYPE a [<!ENTITY x \"text\">]><a/>&x;",
	} {
		var out bytes.Buffer
		err := Sign(context.Background(), strings.NewReader(in), &out, p.Key, p.Chain, Options{})
		if signagent.CodeOf(err) != signagent.CodeNotXML || signagent.KindOf(err) != signagent.KindDocument {
			t.Errorf("Sign(%q) = %v, want a NOT_XML document error", in, err)
		}
		if out.Len() != 0 {
			t.Errorf("Sign(%q) wrote output on error", in)
		}
	}
}

// Entities of the internal DTD subset are valid XML that needs nothing
// from outside the document. xmlsec1 does not substitute them before it
// canonicalizes (it fails on the entity reference), so the signed
// document has them expanded: the same document to any reader.
func TestSignsInternalEntities(t *testing.T) {
	p := testpki.New(t, false)
	dir := t.TempDir()
	docs := map[string]string{
		"issue":     `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`,
		"attribute": "<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n  <!-- it's [a] comment -->\n  <!ENTITY co \"ACME &amp; Sons\">\n  <!ENTITY q '\"quoted\" &#9;tab'>\n]>\n<r name=\"&co;\" q='&q;' x=\"&q;\">\n  <n>&co; / &q;</n>\n</r>\n",
		"nested":    `<!DOCTYPE r [<!ENTITY a "A&#38;amp;"><!ENTITY b "&a;&a;&#x20AC;"><!ELEMENT r ANY><!ATTLIST r k CDATA #IMPLIED>]><r k="&b;">&b;&lt;</r>`,
		"selfclose": `<!DOCTYPE r [<!ENTITY v "1&#10;2">]><r v="&v;"/>`,
		"latin1":    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!DOCTYPE r [<!ENTITY s \"Stra\xdfe\">]>\n<r>&s; 1</r>\n",
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Sign(context.Background(), strings.NewReader(doc), &out, p.Key, p.Chain, Options{}); err != nil {
				t.Fatal(err)
			}
			signed := out.Bytes()
			path := filepath.Join(dir, name+".xml")
			os.WriteFile(path, signed, 0o600)
			if err := xmlsec1(t, path, p.CAPEM); err != nil {
				t.Fatalf("xmlsec1 rejects it: %v\n%s", err, signed)
			}
			infos, err := Verify(bytes.NewReader(signed))
			if err != nil || len(infos) != 1 || infos[0].Err != nil {
				t.Errorf("Verify: %v %+v", err, infos)
			}
			if dtd := doc[:strings.Index(doc, "]>")+2]; !bytes.HasPrefix(signed, []byte(dtd)) {
				t.Errorf("the prolog was not preserved:\n%q\n%q", dtd, signed[:len(dtd)])
			}
			if body := signed[strings.Index(doc, "]>")+2:]; regexp.MustCompile(`&(x|co|q|a|b|v|s);`).Match(body) {
				t.Errorf("an entity reference was left in the body:\n%s", body)
			}
		})
	}

	// What the entity stands for is signed.
	var out bytes.Buffer
	if err := Sign(context.Background(), strings.NewReader(docs["issue"]), &out, p.Key, p.Chain, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>y<ds:Signature`)) {
		t.Fatalf("unexpected output:\n%s", out.Bytes())
	}
	bad := bytes.Replace(out.Bytes(), []byte(`<a>y`), []byte(`<a>z`), 1)
	path := filepath.Join(dir, "tampered.xml")
	os.WriteFile(path, bad, 0o600)
	if err := xmlsec1(t, path, p.CAPEM); err == nil {
		t.Error("xmlsec1 accepts a document whose expanded entity was changed after signing")
	}
	if infos, err := Verify(bytes.NewReader(bad)); err != nil || len(infos) != 1 || infos[0].Err == nil {
		t.Errorf("Verify accepts a document whose expanded entity was changed: %v %+v", err, infos)
	}
}

// What we cannot read exactly as a verifier would, without fetching
// anything or doing unbounded work, is refused.
func TestRefusesUnsafeDTDs(t *testing.T) {
	p := testpki.New(t, false)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o600)
	lol := `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">`
	for i := 2; i <= 9; i++ {
		lol += `<!ENTITY lol` + string(rune('0'+i)) + ` "` + strings.Repeat(`&lol`+string(rune('0'+i-1))+`;`, 10) + `">`
	}
	lol += `]><lolz>&lol9;</lolz>`
	for name, in := range map[string]string{
		"system":         `<!DOCTYPE a [<!ENTITY x SYSTEM "file://` + secret + `">]><a>&x;</a>`,
		"public":         `<!DOCTYPE a [<!ENTITY x PUBLIC "-//X//Y" "http://127.0.0.1:1/x">]><a>&x;</a>`,
		"unparsed":       `<!DOCTYPE a [<!NOTATION n SYSTEM "n"><!ENTITY x SYSTEM "x.bin" NDATA n>]><a/>`,
		"parameter":      `<!DOCTYPE a [<!ENTITY % p "<!ENTITY x 'y'>"> %p;]><a>&x;</a>`,
		"default attr":   `<!DOCTYPE a [<!ATTLIST a k CDATA "v">]><a/>`,
		"id attr":        `<!DOCTYPE a [<!ATTLIST a k ID #IMPLIED>]><a k=" x "/>`,
		"markup":         `<!DOCTYPE a [<!ENTITY x "<b/>">]><a>&x;</a>`,
		"escaped <":      `<!DOCTYPE a [<!ENTITY x "&#60;b/>">]><a>&x;</a>`,
		"recursive":      `<!DOCTYPE a [<!ENTITY x "&y;"><!ENTITY y "&x;">]><a>&x;</a>`,
		"undeclared":     `<!DOCTYPE a [<!ENTITY x "y">]><a>&z;</a>`,
		"nul":            "<!DOCTYPE a [<!ENTITY x \"\x00\">]><a k='&x;'>&x;</a>",
		"billion laughs": lol,
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			var out bytes.Buffer
			err := Sign(context.Background(), strings.NewReader(in), &out, p.Key, p.Chain, Options{})
			runtime.ReadMemStats(&after)
			if signagent.CodeOf(err) != signagent.CodeNotXML || signagent.KindOf(err) != signagent.KindDocument {
				t.Errorf("Sign = %v, want a NOT_XML document error", err)
			}
			if out.Len() != 0 || strings.Contains(out.String(), "secret") {
				t.Error("Sign wrote output on error")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v", d)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
				t.Errorf("refusing allocated %d MiB", n>>20)
			}
		})
	}
}
