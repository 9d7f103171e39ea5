package xades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // digest algorithms of signatures made elsewhere
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/digitorus/timestamp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/signagent/signagent"
)

// Info describes one signature found by Verify.
type Info struct {
	// Signer is the certificate whose key made the signature, when found.
	Signer *x509.Certificate
	// Chain is every certificate of ds:KeyInfo, in document order.
	Chain []*x509.Certificate
	// SigningTime is the claimed xades:SigningTime (zero when absent).
	SigningTime time.Time
	// Timestamp is the time of a valid xades:SignatureTimeStamp (zero when
	// absent).
	Timestamp time.Time
	// Err is nil when every reference and the signature value are correct,
	// and the signing certificate digest (when present) matches Signer.
	Err error
}

// ErrNoSignature is returned by Verify for a document without signatures.
var ErrNoSignature = errors.New("xades: the document has no XML signature")

// Verify checks every ds:Signature of the XML document read from r. It
// returns one Info per signature, in document order; problems with a
// signature are in its Info.Err. The error result is for documents that
// cannot be checked at all: not XML (a NOT_XML *signagent.Error), or no
// signature (ErrNoSignature). Trust in the certificates is not evaluated.
func Verify(r io.Reader) ([]Info, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("xades: read document: %w", err)
	}
	doc, err := parse(data)
	if err != nil {
		return nil, signagent.DocError(signagent.CodeNotXML, "the document is not well-formed XML: "+err.Error(), "")
	}
	var sigs []*etree.Element
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		for _, c := range el.ChildElements() {
			if c.Tag == "Signature" && c.NamespaceURI() == nsDS {
				sigs = append(sigs, c)
				continue
			}
			walk(c)
		}
	}
	if r := doc.Root(); r.Tag == "Signature" && r.NamespaceURI() == nsDS {
		sigs = append(sigs, r)
	} else {
		walk(r)
	}
	if len(sigs) == 0 {
		return nil, ErrNoSignature
	}
	infos := make([]Info, len(sigs))
	for i, s := range sigs {
		infos[i] = verifySignature(doc, s)
	}
	return infos, nil
}

// child returns the first child element of el in the namespace ns named tag.
func child(el *etree.Element, ns, tag string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// text is el's text, empty when el is nil.
func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return el.Text()
}

// attr is el's attribute key, empty when el is nil.
func attr(el *etree.Element, key string) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue(key, "")
}

func decodeB64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

func verifySignature(doc *etree.Document, sig *etree.Element) Info {
	var info Info
	for _, xc := range children(child(child(sig, nsDS, "KeyInfo"), nsDS, "X509Data"), nsDS, "X509Certificate") {
		der, err := decodeB64(text(xc))
		if err != nil {
			info.Err = fmt.Errorf("ds:X509Certificate is not base64: %w", err)
			return info
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			info.Err = fmt.Errorf("ds:X509Certificate: %w", err)
			return info
		}
		info.Chain = append(info.Chain, c)
	}
	// The signing certificate: the one the signed properties name, else the
	// first of KeyInfo.
	var certRef *etree.Element
	for _, qp := range children(child(sig, nsDS, "Object"), nsXAdES, "QualifyingProperties") {
		ssp := child(child(qp, nsXAdES, "SignedProperties"), nsXAdES, "SignedSignatureProperties")
		if st := child(ssp, nsXAdES, "SigningTime"); st != nil {
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(text(st))); err == nil {
				info.SigningTime = t
			}
		}
		if sc := child(ssp, nsXAdES, "SigningCertificateV2"); sc != nil {
			certRef = child(child(sc, nsXAdES, "Cert"), nsXAdES, "CertDigest")
		} else if sc := child(ssp, nsXAdES, "SigningCertificate"); sc != nil {
			certRef = child(child(sc, nsXAdES, "Cert"), nsXAdES, "CertDigest")
		}
	}
	if len(info.Chain) > 0 {
		info.Signer = info.Chain[0]
	}
	if certRef != nil {
		h, err := digestHash(attr(child(certRef, nsDS, "DigestMethod"), "Algorithm"))
		if err != nil {
			info.Err = fmt.Errorf("signing certificate digest: %w", err)
			return info
		}
		want, _ := decodeB64(text(child(certRef, nsDS, "DigestValue")))
		info.Signer = nil
		for _, c := range info.Chain {
			d := h.New()
			d.Write(c.Raw)
			if bytes.Equal(d.Sum(nil), want) {
				info.Signer = c
				break
			}
		}
		if info.Signer == nil {
			info.Err = errors.New("no certificate in ds:KeyInfo matches the signed signing-certificate digest")
			return info
		}
	}
	if info.Signer == nil {
		info.Err = errors.New("the signature carries no X.509 certificate")
		return info
	}

	signedInfo := child(sig, nsDS, "SignedInfo")
	if signedInfo == nil {
		info.Err = errors.New("ds:SignedInfo is missing")
		return info
	}
	refs := children(signedInfo, nsDS, "Reference")
	if len(refs) == 0 {
		info.Err = errors.New("ds:SignedInfo has no reference")
		return info
	}
	coversDocument := false
	for i, ref := range refs {
		whole, err := checkReference(doc, sig, ref)
		if err != nil {
			info.Err = fmt.Errorf("reference %d (URI %q): %w", i+1, ref.SelectAttrValue("URI", ""), err)
			return info
		}
		coversDocument = coversDocument || whole
	}
	if !coversDocument {
		info.Err = errors.New("no reference covers the whole document")
		return info
	}

	cm := child(signedInfo, nsDS, "CanonicalizationMethod")
	if cm == nil {
		info.Err = errors.New("ds:CanonicalizationMethod is missing")
		return info
	}
	canon, err := canonicalizer(cm.SelectAttrValue("Algorithm", ""), prefixList(cm))
	if err != nil {
		info.Err = err
		return info
	}
	siCanon, err := canonicalElement(signedInfo, canon)
	if err != nil {
		info.Err = fmt.Errorf("canonicalize ds:SignedInfo: %w", err)
		return info
	}
	value, err := decodeB64(text(child(sig, nsDS, "SignatureValue")))
	if err != nil {
		info.Err = fmt.Errorf("ds:SignatureValue is not base64: %w", err)
		return info
	}
	sm := child(signedInfo, nsDS, "SignatureMethod")
	if sm == nil {
		info.Err = errors.New("ds:SignatureMethod is missing")
		return info
	}
	if info.Err = checkValue(sm.SelectAttrValue("Algorithm", ""), info.Signer, siCanon, value); info.Err != nil {
		return info
	}
	info.Timestamp, info.Err = checkTimestamp(sig)
	return info
}

// checkTimestamp checks a xades:SignatureTimeStamp, when present, against
// the signature value and returns its time.
func checkTimestamp(sig *etree.Element) (time.Time, error) {
	var ts *etree.Element
	for _, qp := range children(child(sig, nsDS, "Object"), nsXAdES, "QualifyingProperties") {
		usp := child(child(qp, nsXAdES, "UnsignedProperties"), nsXAdES, "UnsignedSignatureProperties")
		if t := child(usp, nsXAdES, "SignatureTimeStamp"); t != nil {
			ts = t
		}
	}
	if ts == nil {
		return time.Time{}, nil
	}
	alg := attr(child(ts, nsDS, "CanonicalizationMethod"), "Algorithm")
	if alg == "" {
		alg = string(dsig.CanonicalXML10RecAlgorithmId)
	}
	canon, err := canonicalizer(alg, "")
	if err != nil {
		return time.Time{}, fmt.Errorf("signature timestamp: %w", err)
	}
	covered, err := canonicalElement(child(sig, nsDS, "SignatureValue"), canon)
	if err != nil {
		return time.Time{}, fmt.Errorf("signature timestamp: %w", err)
	}
	der, err := decodeB64(text(child(ts, nsXAdES, "EncapsulatedTimeStamp")))
	if err != nil {
		return time.Time{}, fmt.Errorf("signature timestamp is not base64: %w", err)
	}
	tok, err := timestamp.Parse(der)
	if err != nil {
		return time.Time{}, fmt.Errorf("signature timestamp: %w", err)
	}
	if !tok.HashAlgorithm.Available() {
		return time.Time{}, fmt.Errorf("signature timestamp: unsupported hash %v", tok.HashAlgorithm)
	}
	h := tok.HashAlgorithm.New()
	h.Write(covered)
	if !bytes.Equal(h.Sum(nil), tok.HashedMessage) {
		return time.Time{}, errors.New("the signature timestamp does not cover this signature value")
	}
	return tok.Time, nil
}

// checkReference recomputes the digest of one reference. whole reports
// that it covers the whole document.
func checkReference(doc *etree.Document, sig, ref *etree.Element) (whole bool, err error) {
	uri := ref.SelectAttrValue("URI", "")
	var transforms []*etree.Element
	if tr := child(ref, nsDS, "Transforms"); tr != nil {
		transforms = children(tr, nsDS, "Transform")
	}
	// Default canonicalization of a node set is inclusive C14N 1.0.
	canon := dsig.MakeC14N10RecCanonicalizer()
	enveloped := false
	for _, t := range transforms {
		alg := t.SelectAttrValue("Algorithm", "")
		if alg == algEnvSig {
			enveloped = true
			continue
		}
		if canon, err = canonicalizer(alg, prefixList(t)); err != nil {
			return false, err
		}
	}
	var got []byte
	switch {
	case uri == "":
		root := doc.Root()
		if enveloped {
			// The enveloped-signature transform removes this signature only.
			root = removeElement(doc.Root(), sig)
		}
		whole = true
		got, err = canonicalDocument(doc, root, canon)
	case strings.HasPrefix(uri, "#"):
		target := findID(doc.Root(), uri[1:])
		if target == nil {
			return false, fmt.Errorf("no element with Id %q", uri[1:])
		}
		if enveloped && isAncestor(target, sig) {
			tmp := removeElement(target, sig)
			got, err = canon.Canonicalize(tmp)
		} else {
			got, err = canonicalElement(target, canon)
		}
		whole = target == doc.Root()
	default:
		return false, errors.New("only same-document references are supported")
	}
	if err != nil {
		return false, err
	}
	dm := child(ref, nsDS, "DigestMethod")
	if dm == nil {
		return false, errors.New("ds:DigestMethod is missing")
	}
	h, err := digestHash(dm.SelectAttrValue("Algorithm", ""))
	if err != nil {
		return false, err
	}
	d := h.New()
	d.Write(got)
	want, err := decodeB64(text(child(ref, nsDS, "DigestValue")))
	if err != nil {
		return false, fmt.Errorf("ds:DigestValue is not base64: %w", err)
	}
	if !bytes.Equal(d.Sum(nil), want) {
		return false, errors.New("digest mismatch: the signed content was changed")
	}
	return whole, nil
}

func prefixList(el *etree.Element) string {
	for _, c := range el.ChildElements() {
		if c.Tag == "InclusiveNamespaces" {
			return c.SelectAttrValue("PrefixList", "")
		}
	}
	return ""
}

// removeElement returns a copy of top without the descendant victim.
func removeElement(top, victim *etree.Element) *etree.Element {
	var path []int
	var find func(el *etree.Element) bool
	find = func(el *etree.Element) bool {
		for i, c := range el.Child {
			if c == victim {
				path = append(path, i)
				return true
			}
			if ce, ok := c.(*etree.Element); ok && find(ce) {
				path = append(path, i)
				return true
			}
		}
		return false
	}
	cp := top.Copy()
	if !find(top) {
		return cp
	}
	el := cp
	for i := len(path) - 1; i > 0; i-- {
		el = el.Child[path[i]].(*etree.Element)
	}
	el.RemoveChildAt(path[0])
	return cp
}

func isAncestor(a, el *etree.Element) bool {
	for p := el.Parent(); p != nil; p = p.Parent() {
		if p == a {
			return true
		}
	}
	return false
}

func findID(el *etree.Element, id string) *etree.Element {
	for _, a := range el.Attr {
		if (a.Key == "Id" || a.Key == "ID" || a.Key == "id") && a.Space == "" && a.Value == id {
			return el
		}
	}
	for _, c := range el.ChildElements() {
		if f := findID(c, id); f != nil {
			return f
		}
	}
	return nil
}

func digestHash(alg string) (crypto.Hash, error) {
	switch alg {
	case algSHA256:
		return crypto.SHA256, nil
	case "http://www.w3.org/2001/04/xmldsig-more#sha384":
		return crypto.SHA384, nil
	case "http://www.w3.org/2001/04/xmlenc#sha512":
		return crypto.SHA512, nil
	case "http://www.w3.org/2000/09/xmldsig#sha1":
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("unsupported digest algorithm %q", alg)
}

func checkValue(method string, cert *x509.Certificate, signed, value []byte) error {
	var h crypto.Hash
	var wantRSA bool
	switch method {
	case algRSA256:
		h, wantRSA = crypto.SHA256, true
	case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":
		h, wantRSA = crypto.SHA384, true
	case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512":
		h, wantRSA = crypto.SHA512, true
	case "http://www.w3.org/2000/09/xmldsig#rsa-sha1":
		h, wantRSA = crypto.SHA1, true
	case algECDSA:
		h = crypto.SHA256
	case "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384":
		h = crypto.SHA384
	case "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("unsupported signature method %q", method)
	}
	d := h.New()
	d.Write(signed)
	sum := d.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if !wantRSA {
			return errors.New("signature method does not match the RSA certificate")
		}
		if rsa.VerifyPKCS1v15(pub, h, sum, value) != nil {
			return errors.New("the signature value does not match ds:SignedInfo")
		}
	case *ecdsa.PublicKey:
		if wantRSA || len(value)%2 != 0 {
			return errors.New("signature method does not match the ECDSA certificate")
		}
		r := new(big.Int).SetBytes(value[:len(value)/2])
		s := new(big.Int).SetBytes(value[len(value)/2:])
		if !ecdsa.Verify(pub, sum, r, s) {
			return errors.New("the signature value does not match ds:SignedInfo")
		}
	default:
		return fmt.Errorf("unsupported public key %T", pub)
	}
	return nil
}
