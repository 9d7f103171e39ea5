package xades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/signagent/signagent"
)

// Options are the signature settings.
type Options struct {
	// Time is the claimed signing time (xades:SigningTime); zero means now.
	Time time.Time
	// Location, when set, is written as the city of
	// xades:SignatureProductionPlaceV2.
	Location string
	// Timestamper, when set, adds an RFC 3161 xades:SignatureTimeStamp over
	// the signature value (XAdES-B-T).
	Timestamper Timestamper
}

// Timestamper obtains an RFC 3161 timestamp token (DER) whose message
// imprint is the given SHA-256 digest. cms.TSA implements it.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte) ([]byte, error)
}

// Sign reads the XML document from in and writes it to out with an enveloped
// XAdES-B-B signature by key, whose certificate is chain[0] (the rest of
// chain is included in ds:KeyInfo). The input is read completely before
// anything is written; on error nothing has been written to out.
//
// Input that is not well-formed XML (or uses an unsupported encoding) is a
// *signagent.Error of KindDocument with code NOT_XML; an empty input is
// EMPTY_FILE. Key failures are returned as they are.
func Sign(ctx context.Context, in io.Reader, out io.Writer, key crypto.Signer, chain []*x509.Certificate, o Options) error {
	if key == nil || len(chain) == 0 {
		return errors.New("xades: a key and its certificate are required")
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("xades: read document: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return signagent.DocError(signagent.CodeEmptyFile, "the document is empty", "export the document again")
	}
	// A verifier such as xmlsec1 does not substitute entities before it
	// canonicalizes: what we sign and write is the document with its
	// entity references expanded (the same document to any reader).
	data, err = expandEntities(data)
	var doc *etree.Document
	if err == nil {
		doc, err = parseExpanded(data)
	}
	if u := (*unsupportedError)(nil); errors.As(err, &u) {
		return signagent.DocError(signagent.CodeNotXML, "the XML document cannot be signed safely: "+u.Error(),
			"remove the DTD (or the declarations named) from the document, or sign it as CAdES (.p7s)")
	}
	if err != nil {
		return signagent.DocError(signagent.CodeNotXML, "the document is not well-formed XML: "+err.Error(),
			"check that the file is a complete XML document in UTF-8, or sign it as CAdES (.p7s)")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	signed, err := signDocument(ctx, doc, data, key, chain, o)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = out.Write(signed)
	return err
}

func signDocument(ctx context.Context, doc *etree.Document, data []byte, key crypto.Signer, chain []*x509.Certificate, o Options) ([]byte, error) {
	var method string
	switch key.Public().(type) {
	case *rsa.PublicKey:
		method = algRSA256
	case *ecdsa.PublicKey:
		method = algECDSA
	default:
		return nil, fmt.Errorf("xades: unsupported key type %T", key.Public())
	}
	when := o.Time
	if when.IsZero() {
		when = time.Now()
	}
	excC14N := newExcC14N("", false)

	root := doc.Root()
	docCanon, err := canonicalDocument(doc, root, excC14N)
	if err != nil {
		return nil, fmt.Errorf("xades: canonicalize document: %w", err)
	}
	docDigest := sha256.Sum256(docCanon)

	id := newID()
	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", nsDS)
	sig.CreateAttr("Id", id)
	signedInfo := sig.CreateElement("ds:SignedInfo")
	sigValue := sig.CreateElement("ds:SignatureValue")
	sigValue.CreateAttr("Id", id+"-value")
	x509Data := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	for _, c := range chain {
		x509Data.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}

	qp := sig.CreateElement("ds:Object").CreateElement("xades:QualifyingProperties")
	qp.CreateAttr("xmlns:xades", nsXAdES)
	qp.CreateAttr("Target", "#"+id)
	sp := qp.CreateElement("xades:SignedProperties")
	sp.CreateAttr("Id", id+"-signedprops")
	ssp := sp.CreateElement("xades:SignedSignatureProperties")
	ssp.CreateElement("xades:SigningTime").SetText(when.UTC().Format(time.RFC3339))
	cert := ssp.CreateElement("xades:SigningCertificateV2").CreateElement("xades:Cert")
	certDigest := cert.CreateElement("xades:CertDigest")
	certDigest.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
	leafDigest := sha256.Sum256(chain[0].Raw)
	certDigest.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(leafDigest[:]))
	if is, err := issuerSerial(chain[0]); err == nil {
		cert.CreateElement("xades:IssuerSerialV2").SetText(base64.StdEncoding.EncodeToString(is))
	}
	if o.Location != "" {
		ssp.CreateElement("xades:SignatureProductionPlaceV2").CreateElement("xades:City").SetText(o.Location)
	}
	dof := sp.CreateElement("xades:SignedDataObjectProperties").CreateElement("xades:DataObjectFormat")
	dof.CreateAttr("ObjectReference", "#"+id+"-ref0")
	dof.CreateElement("xades:MimeType").SetText("text/xml")

	spCanon, err := canonicalElement(sp, excC14N)
	if err != nil {
		return nil, fmt.Errorf("xades: canonicalize signed properties: %w", err)
	}
	spDigest := sha256.Sum256(spCanon)

	signedInfo.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
	signedInfo.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", method)
	addReference(signedInfo, id+"-ref0", "", "", docDigest[:], algEnvSig, algExcC14N)
	addReference(signedInfo, "", "#"+id+"-signedprops", typeSigned, spDigest[:], algExcC14N)

	siCanon, err := canonicalElement(signedInfo, excC14N)
	if err != nil {
		return nil, fmt.Errorf("xades: canonicalize SignedInfo: %w", err)
	}
	siDigest := sha256.Sum256(siCanon)
	value, err := key.Sign(rand.Reader, siDigest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("xades: sign: %w", err)
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); ok {
		if value, err = ecdsaRaw(value, pub); err != nil {
			return nil, fmt.Errorf("xades: sign: %w", err)
		}
	}
	sigValue.SetText(base64.StdEncoding.EncodeToString(value))

	if o.Timestamper != nil {
		svCanon, err := canonicalElement(sigValue, excC14N)
		if err != nil {
			return nil, fmt.Errorf("xades: canonicalize SignatureValue: %w", err)
		}
		d := sha256.Sum256(svCanon)
		token, err := o.Timestamper.Timestamp(ctx, d[:])
		if err != nil {
			return nil, err
		}
		ts := qp.CreateElement("xades:UnsignedProperties").CreateElement("xades:UnsignedSignatureProperties").
			CreateElement("xades:SignatureTimeStamp")
		ts.CreateAttr("Id", id+"-ts")
		ts.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
		ts.CreateElement("xades:EncapsulatedTimeStamp").SetText(base64.StdEncoding.EncodeToString(token))
	}

	sigXML, err := serialize(sig)
	if err != nil {
		return nil, fmt.Errorf("xades: write signature: %w", err)
	}
	if at, ok := rootEndTag(data, root); ok {
		outb := make([]byte, 0, len(data)+len(sigXML))
		outb = append(outb, data[:at]...)
		outb = append(outb, sigXML...)
		return append(outb, data[at:]...), nil
	}
	// The document element has no end tag (<a/>): write the document again.
	root.AddChild(sig)
	doc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalAttrVal: true, CanonicalText: true}
	return doc.WriteToBytes()
}

func addReference(signedInfo *etree.Element, id, uri, typ string, digest []byte, transforms ...string) {
	ref := signedInfo.CreateElement("ds:Reference")
	if id != "" {
		ref.CreateAttr("Id", id)
	}
	if typ != "" {
		ref.CreateAttr("Type", typ)
	}
	ref.CreateAttr("URI", uri)
	tr := ref.CreateElement("ds:Transforms")
	for _, t := range transforms {
		tr.CreateElement("ds:Transform").CreateAttr("Algorithm", t)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
}

// serialize writes el without indentation (whitespace would change what was
// signed) and with every non-ASCII character as a character reference, so
// the bytes fit a document in any supported encoding.
func serialize(el *etree.Element) ([]byte, error) {
	d := etree.NewDocument()
	d.SetRoot(el)
	var b bytes.Buffer
	if _, err := d.WriteTo(&b); err != nil {
		return nil, err
	}
	raw := b.Bytes()
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if r < utf8.RuneSelf {
			out = append(out, raw[0])
		} else {
			out = append(out, "&#x"+strconv.FormatInt(int64(r), 16)+";"...)
		}
		raw = raw[n:]
	}
	return out, nil
}

// rootEndTag returns the offset of the document element's end tag in data:
// the last "</" before which only comments, processing instructions and
// white space follow.
func rootEndTag(data []byte, root *etree.Element) (int, bool) {
	rest := bytes.TrimRight(data, " \t\r\n")
	for {
		switch {
		case bytes.HasSuffix(rest, []byte("-->")):
			i := bytes.LastIndex(rest, []byte("<!--"))
			if i < 0 {
				return 0, false
			}
			rest = bytes.TrimRight(rest[:i], " \t\r\n")
			continue
		case bytes.HasSuffix(rest, []byte("?>")):
			i := bytes.LastIndex(rest, []byte("<?"))
			if i < 0 {
				return 0, false
			}
			rest = bytes.TrimRight(rest[:i], " \t\r\n")
			continue
		}
		break
	}
	i := bytes.LastIndexByte(rest, '<')
	if i < 0 || !bytes.HasPrefix(rest[i:], []byte("</"+root.FullTag())) {
		return 0, false
	}
	tail := bytes.TrimSpace(rest[i+2+len(root.FullTag()):])
	if string(tail) != ">" {
		return 0, false
	}
	return i, true
}

// issuerSerial is the DER IssuerSerial (RFC 5035) of c.
func issuerSerial(c *x509.Certificate) ([]byte, error) {
	type issuerSerial struct {
		Issuer []asn1.RawValue
		Serial *big.Int
	}
	name := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: c.RawIssuer}
	return asn1.Marshal(issuerSerial{Issuer: []asn1.RawValue{name}, Serial: c.SerialNumber})
}

// ecdsaRaw converts an ASN.1 ECDSA signature to the fixed-size r||s form of
// XML Signature.
func ecdsaRaw(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return nil, fmt.Errorf("parse ECDSA signature: %w", err)
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "xades-" + hex.EncodeToString(b[:])
}
