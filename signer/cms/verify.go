package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // older signatures met in existing documents
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/digitorus/timestamp"
)

var digestOIDs = map[string]crypto.Hash{
	"1.3.14.3.2.26":          crypto.SHA1,
	"2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384,
	"2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

// parsed is a decoded SignedData with its single SignerInfo.
type parsed struct {
	sd    signedData
	si    signerInfo
	hash  crypto.Hash
	certs []*x509.Certificate
}

func parse(der []byte) (*parsed, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("cms: %w: %v", errNotSignedData, err)
	}
	// Signature containers in PDFs are zero-padded; anything else trailing is
	// not ours to judge.
	_ = rest
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("cms: %w: content type %v", errNotSignedData, ci.ContentType)
	}
	p := &parsed{}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &p.sd); err != nil {
		return nil, fmt.Errorf("cms: %w: %v", errNotSignedData, err)
	}
	if len(p.sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("cms: %d signer infos, want exactly one", len(p.sd.SignerInfos))
	}
	p.si = p.sd.SignerInfos[0]
	h, ok := digestOIDs[p.si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("cms: unsupported digest algorithm %v", p.si.DigestAlgorithm.Algorithm)
	}
	p.hash = h
	if len(p.sd.Certificates.Bytes) > 0 {
		p.certs, err = x509.ParseCertificates(p.sd.Certificates.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cms: embedded certificates: %w", err)
		}
	}
	return p, nil
}

// SignedData is a parsed detached SignedData: a caller that needs its
// digest algorithm before it can hash the content parses it once, hashes,
// then verifies.
type SignedData struct{ p *parsed }

// Parse decodes der as a detached SignedData with one signer.
func Parse(der []byte) (*SignedData, error) {
	p, err := parse(der)
	if err != nil {
		return nil, err
	}
	return &SignedData{p}, nil
}

// Hash is the signer's digest algorithm.
func (s *SignedData) Hash() crypto.Hash { return s.p.hash }

// Verify checks the signature as VerifyDigest does, against the digest of
// its content taken with Hash.
func (s *SignedData) Verify(digest []byte) (*Info, error) { return s.p.verify(digest) }

// VerifyDigest checks a detached SignedData against the SHA-256 digest of
// its content: the message-digest attribute must equal digest and the
// signature must verify with the embedded signer certificate. When a
// signature timestamp token is present its signature and message imprint are
// checked too. Trust in the certificates is not evaluated. A signature
// with another digest algorithm is refused (Parse, then Verify, for those).
func VerifyDigest(der []byte, digest []byte) (*Info, error) {
	p, err := parse(der)
	if err != nil {
		return nil, err
	}
	if p.hash != crypto.SHA256 {
		return nil, fmt.Errorf("cms: signature uses digest %v, not %v", p.hash, crypto.SHA256)
	}
	return p.verify(digest)
}

func (p *parsed) verify(digest []byte) (*Info, error) {
	h := p.hash
	signer, err := findSigner(p.si.SID, p.certs)
	if err != nil {
		return nil, err
	}
	info := &Info{Signer: signer, Chain: p.certs}
	if len(p.si.SignedAttrs.FullBytes) == 0 {
		return nil, errors.New("cms: no signed attributes")
	}
	attrs, err := parseAttrs(p.si.SignedAttrs.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cms: signed attributes: %w", err)
	}
	var gotDigest []byte
	var sawContentType bool
	for _, a := range attrs {
		switch {
		case a.Type.Equal(oidMessageDigest):
			if _, err := asn1.Unmarshal(a.Values.Bytes, &gotDigest); err != nil {
				return nil, fmt.Errorf("cms: message-digest: %w", err)
			}
		case a.Type.Equal(oidContentType):
			sawContentType = true
		case a.Type.Equal(oidSigningTime):
			var t time.Time
			if _, err := asn1.Unmarshal(a.Values.Bytes, &t); err != nil {
				return nil, fmt.Errorf("cms: signing-time: %w", err)
			}
			info.SigningTime = t
		case a.Type.Equal(oidSigningCertificateV2):
			ok, err := signingCertMatches(a.Values.Bytes, signer)
			if err != nil {
				return nil, fmt.Errorf("cms: signing-certificate-v2: %w", err)
			}
			if !ok {
				return nil, errors.New("cms: signing-certificate-v2 does not name the signer certificate")
			}
			info.HasSigningCertV2 = true
		}
	}
	if !sawContentType || gotDigest == nil {
		return nil, errors.New("cms: content-type or message-digest attribute missing")
	}
	if !bytes.Equal(gotDigest, digest) {
		return nil, errors.New("cms: message digest does not match the content (the signed data changed)")
	}
	signed := append([]byte{0x31}, p.si.SignedAttrs.FullBytes[1:]...)
	if err := checkSignature(signer, p.si.SignatureAlgorithm.Algorithm, h, signed, p.si.Signature); err != nil {
		return nil, err
	}
	if len(p.si.UnsignedAttrs.Bytes) > 0 {
		ua, err := parseAttrs(p.si.UnsignedAttrs.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cms: unsigned attributes: %w", err)
		}
		for _, a := range ua {
			if !a.Type.Equal(oidSignatureTimeStamp) {
				continue
			}
			var tok asn1.RawValue
			if _, err := asn1.Unmarshal(a.Values.Bytes, &tok); err != nil {
				return nil, fmt.Errorf("cms: timestamp token: %w", err)
			}
			ts, err := timestamp.Parse(tok.FullBytes)
			if err != nil {
				return nil, fmt.Errorf("cms: timestamp token: %w", err)
			}
			if !ts.HashAlgorithm.Available() {
				return nil, fmt.Errorf("cms: timestamp token hash %v unsupported", ts.HashAlgorithm)
			}
			hh := ts.HashAlgorithm.New()
			hh.Write(p.si.Signature)
			if !bytes.Equal(hh.Sum(nil), ts.HashedMessage) {
				return nil, errors.New("cms: timestamp token does not cover this signature")
			}
			info.Timestamp = ts.Time
			info.TSA = tsaName(ts.Certificates)
		}
	}
	return info, nil
}

func parseAttrs(b []byte) ([]attribute, error) {
	var out []attribute
	for len(b) > 0 {
		var a attribute
		rest, err := asn1.Unmarshal(b, &a)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		b = rest
	}
	return out, nil
}

func findSigner(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 {
		for _, c := range certs {
			if bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
		return nil, errors.New("cms: signer certificate (by key identifier) not embedded")
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
		return nil, fmt.Errorf("cms: signer identifier: %w", err)
	}
	for _, c := range certs {
		if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
			return c, nil
		}
	}
	return nil, errors.New("cms: signer certificate not embedded")
}

func signingCertMatches(set []byte, cert *x509.Certificate) (bool, error) {
	var scv2 struct{ Certs []asn1.RawValue }
	if _, err := asn1.Unmarshal(set, &scv2); err != nil {
		return false, err
	}
	if len(scv2.Certs) == 0 {
		return false, errors.New("no certificate identifiers")
	}
	// The first ESSCertIDv2 identifies the signer certificate.
	var id struct {
		Alg  algorithmIdentifier `asn1:"optional"`
		Hash []byte
		Rest asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(scv2.Certs[0].FullBytes, &id); err != nil {
		return false, err
	}
	h := crypto.SHA256
	if len(id.Alg.Algorithm) > 0 {
		var ok bool
		if h, ok = digestOIDs[id.Alg.Algorithm.String()]; !ok {
			return false, fmt.Errorf("unsupported hash %v", id.Alg.Algorithm)
		}
	}
	hh := h.New()
	hh.Write(cert.Raw)
	return bytes.Equal(hh.Sum(nil), id.Hash), nil
}

func checkSignature(cert *x509.Certificate, alg asn1.ObjectIdentifier, h crypto.Hash, signed, sig []byte) error {
	hh := h.New()
	hh.Write(signed)
	sum := hh.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, sum, sig); err != nil {
			return errors.New("cms: RSA signature does not verify")
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, sig) {
			return errors.New("cms: ECDSA signature does not verify")
		}
	default:
		return fmt.Errorf("cms: %w %v", errUnsupportedSignatureAl, alg)
	}
	return nil
}

// tsaName returns the subject of the timestamp token's signing certificate:
// the one for time stamping, else the first.
func tsaName(certs []*x509.Certificate) string {
	for _, c := range certs {
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageTimeStamping {
				return c.Subject.String()
			}
		}
	}
	if len(certs) > 0 {
		return certs[0].Subject.String()
	}
	return ""
}
