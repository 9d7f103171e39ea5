package xades

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// FuzzC14N reads arbitrary bytes as an XML document and canonicalises it
// the ways Sign and Verify do: the whole document, and every element in
// place, with each canonicalization a signature may name. None may panic.
// Exclusive canonicalization is idempotent: the canonical form of the
// document element, read back, canonicalises to the same bytes.
func FuzzC14N(f *testing.F) {
	for _, s := range []string{
		`<a/>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><?pi before?><r xmlns="urn:d" xmlns:p="urn:p" p:z="1" a="&#9;x&#xD;" xml:lang="de"><p:c b="2"><![CDATA[<&>]]></p:c><!-- c --><d xmlns=""><?pi in?>t&amp;&#13;</d></r><?pi after?>`,
		`<r xmlns:a="urn:a" xmlns:b="urn:b"><a:x xmlns:a="urn:a2" b:y="v"><b:z/></a:x></r>`,
		"<r attr='tab\there\nnl'>\r\n\t<e/></r>",
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`<r xmlns:a="urn:a" xmlns:b="urn:b"><e a:k="1"/></r>`), "a #default b")
	for _, name := range []string{
		"fatturaPA/official/valid/IT01234567890_FPR01.xml",
		"fatturaPA/eigor/valid/fattpa-creditnote.to-ublcn-working-example.xml",
	} {
		if b, err := os.ReadFile(filepath.Join(corpus, name)); err == nil {
			f.Add(b, "")
		}
	}
	algs := []string{
		string(dsig.CanonicalXML10ExclusiveAlgorithmId), string(dsig.CanonicalXML10ExclusiveWithCommentsAlgorithmId),
		string(dsig.CanonicalXML10RecAlgorithmId), string(dsig.CanonicalXML10WithCommentsAlgorithmId),
		string(dsig.CanonicalXML11AlgorithmId), string(dsig.CanonicalXML11WithCommentsAlgorithmId),
	}
	f.Fuzz(func(t *testing.T, data []byte, prefixes string) {
		doc, err := parse(data)
		if err != nil {
			return
		}
		root := doc.Root()
		var els []*etree.Element
		var walk func(*etree.Element)
		walk = func(e *etree.Element) {
			if len(els) < 64 {
				els = append(els, e)
			}
			for _, c := range e.ChildElements() {
				walk(c)
			}
		}
		walk(root)
		for _, alg := range algs {
			canon, err := canonicalizer(alg, prefixes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := canonicalDocument(doc, root, canon); err != nil {
				continue
			}
			for _, el := range els {
				canonicalElement(el, canon)
			}
		}

		exc := newExcC14N(prefixes, false)
		once, err := canonicalElement(root, exc)
		if err != nil {
			t.Fatalf("exclusive canonicalization failed: %v", err)
		}
		doc2, err := parse(once)
		if err != nil {
			t.Fatalf("the canonical form does not read back: %v\n%q", err, once)
		}
		twice, err := canonicalElement(doc2.Root(), exc)
		if err != nil {
			t.Fatalf("exclusive canonicalization of the canonical form failed: %v", err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("canonicalising twice differs:\n once %q\ntwice %q", once, twice)
		}
	})
}
