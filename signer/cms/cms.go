package cms

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
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/signagent/signagent"
)

// Object identifiers used in the SignedData.
var (
	oidData                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificateV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSignatureTimeStamp     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSHA256                 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidRSAEncryption          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidTSTInfo                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	asn1Null                  = asn1.RawValue{Tag: asn1.TagNull, FullBytes: []byte{0x05, 0x00}}
	errNotSignedData          = errors.New("not a CMS SignedData")
	errUnsupportedSignatureAl = errors.New("unsupported signature algorithm")
)

// Timestamper obtains RFC 3161 timestamp tokens.
type Timestamper interface {
	// Timestamp returns a DER TimeStampToken (a CMS ContentInfo) whose
	// message imprint is the SHA-256 digest given. Errors reaching the
	// authority are *signagent.Error of kind KindTransient.
	Timestamp(ctx context.Context, digest []byte) ([]byte, error)
}

// Options select the optional parts of the signature.
type Options struct {
	// SigningTime, when not zero, is added as the signing-time signed
	// attribute. PAdES baseline leaves it zero (the time is in the PDF's /M).
	SigningTime time.Time
	// Timestamper, when set, timestamps the signature value (B-T).
	Timestamper Timestamper
}

// Info describes a verified signature.
type Info struct {
	Signer *x509.Certificate
	Chain  []*x509.Certificate
	// SigningTime is the signing-time attribute, zero when absent.
	SigningTime time.Time
	// Timestamp is the time in the signature timestamp token, zero when absent.
	Timestamp time.Time
	// HasSigningCertV2 reports an ESS signing-certificate-v2 attribute that
	// names the signer certificate.
	HasSigningCertV2 bool
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type encapContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []algorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    algorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm algorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // the full SET OF AttributeValue
}

type essCertIDv2 struct {
	// hashAlgorithm is omitted: its DEFAULT is id-sha256.
	CertHash     []byte
	IssuerSerial issuerSerial
}

type issuerSerial struct {
	Issuer []asn1.RawValue // GeneralNames holding one directoryName
	Serial *big.Int
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

// SignDigest returns a DER ContentInfo holding a detached SignedData over
// content whose SHA-256 is digest. chain[0] is the signer certificate; every
// certificate of chain is embedded. key must match chain[0] and be RSA
// (PKCS#1 v1.5) or ECDSA (P-256/P-384); the signature hash is always SHA-256.
func SignDigest(ctx context.Context, digest []byte, key crypto.Signer, chain []*x509.Certificate, o Options) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("cms: digest is %d bytes, want a SHA-256 digest of %d", len(digest), sha256.Size)
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, configError("no signer certificate given", "configure the certificate that matches the signing key")
	}
	if key == nil {
		return nil, configError("no signing key given", "configure the signing key")
	}
	cert := chain[0]
	var sigAlg algorithmIdentifier
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg = algorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1Null}
	case *ecdsa.PublicKey:
		sigAlg = algorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	default:
		return nil, configError(fmt.Sprintf("signing key type %T is not supported", pub), "use an RSA or ECDSA (P-256, P-384) key")
	}
	if pk, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(key.Public()) {
		return nil, configError("the signing key does not match the signer certificate", "configure the certificate issued for this key")
	}

	attrs, err := signedAttributes(digest, cert, o.SigningTime)
	if err != nil {
		return nil, err
	}
	// The signature covers the attributes DER-encoded as an explicit SET OF.
	setBytes := append([]byte{0x31}, attrs[1:]...)
	h := sha256.Sum256(setBytes)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, &signagent.Error{Kind: signagent.KindConfig, Code: signagent.CodeConfig,
			Message: "the signing key refused to sign", Hint: "check the key and its token or store", Err: err}
	}

	si := signerInfo{
		Version:            1,
		DigestAlgorithm:    algorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1Null},
		SignedAttrs:        asn1.RawValue{FullBytes: attrs},
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	}
	si.SID, err = sidOf(cert)
	if err != nil {
		return nil, err
	}
	if o.Timestamper != nil {
		sum := sha256.Sum256(sig)
		tok, err := o.Timestamper.Timestamp(ctx, sum[:])
		if err != nil {
			return nil, err
		}
		ua, err := marshalAttrSet([]attribute{{Type: oidSignatureTimeStamp, Values: setOf(tok)}}, 1)
		if err != nil {
			return nil, err
		}
		si.UnsignedAttrs = asn1.RawValue{FullBytes: ua}
	}

	var certs []byte
	for _, c := range chain {
		if c != nil {
			certs = append(certs, c.Raw...)
		}
	}
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []algorithmIdentifier{{Algorithm: oidSHA256, Parameters: asn1Null}},
		EncapContentInfo: encapContentInfo{ContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos:      []signerInfo{si},
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("cms: encode SignedData: %w", err)
	}
	return asn1.Marshal(contentInfo{ContentType: oidSignedData,
		Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER}})
}

// signedAttributes returns the [0] IMPLICIT SET OF Attribute, DER-sorted.
func signedAttributes(digest []byte, cert *x509.Certificate, signingTime time.Time) ([]byte, error) {
	ct, _ := asn1.Marshal(oidData)
	md, _ := asn1.Marshal(digest)
	certHash := sha256.Sum256(cert.Raw)
	scv2, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: certHash[:],
		IssuerSerial: issuerSerial{
			Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer}},
			Serial: cert.SerialNumber,
		},
	}}})
	if err != nil {
		return nil, fmt.Errorf("cms: encode signing-certificate-v2: %w", err)
	}
	attrs := []attribute{
		{Type: oidContentType, Values: setOf(ct)},
		{Type: oidMessageDigest, Values: setOf(md)},
		{Type: oidSigningCertificateV2, Values: setOf(scv2)},
	}
	if !signingTime.IsZero() {
		st, err := asn1.MarshalWithParams(signingTime.UTC(), "utc")
		if err != nil {
			// UTCTime covers 1950-2049; GeneralizedTime beyond.
			st, err = asn1.MarshalWithParams(signingTime.UTC(), "generalized")
			if err != nil {
				return nil, fmt.Errorf("cms: encode signing time: %w", err)
			}
		}
		attrs = append(attrs, attribute{Type: oidSigningTime, Values: setOf(st)})
	}
	return marshalAttrSet(attrs, 0)
}

// marshalAttrSet encodes attrs as a context-specific [tag] IMPLICIT SET OF,
// with the elements in DER order.
func marshalAttrSet(attrs []attribute, tag int) ([]byte, error) {
	enc := make([][]byte, 0, len(attrs))
	for _, a := range attrs {
		b, err := asn1.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("cms: encode attribute %v: %w", a.Type, err)
		}
		enc = append(enc, b)
	}
	sort.Slice(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 })
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: bytes.Join(enc, nil)})
}

// setOf wraps one DER value in a SET.
func setOf(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: der}
}

func sidOf(cert *x509.Certificate) (asn1.RawValue, error) {
	b, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("cms: encode signer identifier: %w", err)
	}
	return asn1.RawValue{FullBytes: b}, nil
}

func configError(msg, hint string) error {
	return &signagent.Error{Kind: signagent.KindConfig, Code: signagent.CodeConfig, Message: msg, Hint: hint}
}
