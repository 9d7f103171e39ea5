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
	"slices"
	"sync"
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
	oidSHA256WithRSA          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
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
	// TSA names the authority that signed the timestamp token (its
	// certificate's subject), "" when the token carries no certificate.
	TSA string
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
		return nil, signagent.ConfigError("no signer certificate given", "configure the certificate that matches the signing key", nil)
	}
	if key == nil {
		return nil, signagent.ConfigError("no signing key given", "configure the signing key", nil)
	}
	cert := chain[0]
	var sigAlg []byte // the DER AlgorithmIdentifier of the signature
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg = derSHA256WithRSA
	case *ecdsa.PublicKey:
		sigAlg = derECDSAWithSHA256
	default:
		return nil, signagent.ConfigError(fmt.Sprintf("signing key type %T is not supported", pub), "use an RSA or ECDSA (P-256, P-384) key", nil)
	}
	if pk, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(key.Public()) {
		return nil, signagent.ConfigError("the signing key does not match the signer certificate", "configure the certificate issued for this key", nil)
	}

	sp, err := signerPartsOf(cert)
	if err != nil {
		return nil, err
	}
	attrs, err := signedAttributes(digest, sp.signingCertV2, o.SigningTime)
	if err != nil {
		return nil, err
	}
	// The signature covers the attributes DER-encoded as an explicit SET OF.
	attrs[0] = 0x31
	h := sha256.Sum256(attrs)
	attrs[0] = 0xa0
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, signagent.ConfigError("the signing key refused to sign", "check the key and its token or store", err)
	}
	var unsigned []byte
	if o.Timestamper != nil {
		sum := sha256.Sum256(sig)
		tok, err := o.Timestamper.Timestamp(ctx, sum[:])
		if err != nil {
			return nil, err
		}
		unsigned = attrSet(0xa1, [][]byte{attr(derSignatureTimeStampOID, tok)})
	}

	// SignerInfo ::= SEQUENCE { version 1, sid IssuerAndSerialNumber,
	//   digestAlgorithm, [0] signedAttrs, signatureAlgorithm,
	//   signature OCTET STRING, [1] unsignedAttrs OPTIONAL }
	si := tlv(0x30, derVersion1, sp.sid, derSHA256, attrs, sigAlg, tlv(0x04, sig), unsigned)
	certs := make([][]byte, 0, len(chain))
	for _, c := range chain {
		if c != nil {
			certs = append(certs, c.Raw)
		}
	}
	// SignedData ::= SEQUENCE { version 1, digestAlgorithms SET,
	//   encapContentInfo (id-data, detached), [0] certificates, signerInfos SET }
	sd := tlv(0x30, derVersion1, tlv(0x31, derSHA256), derEncapData, tlv(0xa0, certs...), tlv(0x31, si))
	return tlv(0x30, derSignedDataOID, tlv(0xa0, sd)), nil
}

// DER pieces that never change.
var (
	derVersion1              = []byte{0x02, 0x01, 0x01}
	derSHA256                = mustMarshal(algorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1Null})
	derSHA256WithRSA         = mustMarshal(algorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1Null})
	derECDSAWithSHA256       = mustMarshal(algorithmIdentifier{Algorithm: oidECDSAWithSHA256})
	derEncapData             = mustMarshal(encapContentInfo{ContentType: oidData})
	derSignedDataOID         = mustMarshal(oidSignedData)
	derContentTypeOID        = mustMarshal(oidContentType)
	derMessageDigestOID      = mustMarshal(oidMessageDigest)
	derSigningTimeOID        = mustMarshal(oidSigningTime)
	derSigningCertV2OID      = mustMarshal(oidSigningCertificateV2)
	derSignatureTimeStampOID = mustMarshal(oidSignatureTimeStamp)
	derContentTypeData       = attr(derContentTypeOID, mustMarshal(oidData))
)

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// signerParts are the DER parts of a SignerInfo that depend only on the
// signer certificate.
type signerParts struct {
	sid           []byte // IssuerAndSerialNumber
	signingCertV2 []byte // the signing-certificate-v2 Attribute
}

// partsCache keeps the signerParts of the last few signer certificates, so
// that signing many documents with one key encodes them once. It is bounded:
// a service reloading its certificates does not grow it.
var partsCache struct {
	sync.Mutex
	m map[*x509.Certificate]*signerParts
}

const partsCacheMax = 16

func signerPartsOf(cert *x509.Certificate) (*signerParts, error) {
	partsCache.Lock()
	sp := partsCache.m[cert]
	partsCache.Unlock()
	if sp != nil {
		return sp, nil
	}
	sid, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return nil, fmt.Errorf("cms: encode signer identifier: %w", err)
	}
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
	sp = &signerParts{sid: sid, signingCertV2: attr(derSigningCertV2OID, scv2)}
	partsCache.Lock()
	if len(partsCache.m) >= partsCacheMax || partsCache.m == nil {
		partsCache.m = make(map[*x509.Certificate]*signerParts, partsCacheMax)
	}
	partsCache.m[cert] = sp
	partsCache.Unlock()
	return sp, nil
}

// signedAttributes returns the [0] IMPLICIT SET OF Attribute, DER-sorted:
// content-type, message-digest, signing-certificate-v2 (given encoded) and,
// when not zero, signing-time.
func signedAttributes(digest, signingCertV2 []byte, signingTime time.Time) ([]byte, error) {
	attrs := make([][]byte, 0, 4)
	attrs = append(attrs, derContentTypeData, attr(derMessageDigestOID, tlv(0x04, digest)), signingCertV2)
	if !signingTime.IsZero() {
		st, err := asn1.MarshalWithParams(signingTime.UTC(), "utc")
		if err != nil {
			// UTCTime covers 1950-2049; GeneralizedTime beyond.
			st, err = asn1.MarshalWithParams(signingTime.UTC(), "generalized")
			if err != nil {
				return nil, fmt.Errorf("cms: encode signing time: %w", err)
			}
		}
		attrs = append(attrs, attr(derSigningTimeOID, st))
	}
	return attrSet(0xa0, attrs), nil
}

// attr encodes Attribute ::= SEQUENCE { attrType OID, attrValues SET { value } }
// with one value; oid is the DER of the type.
func attr(oid, value []byte) []byte {
	return tlv(0x30, oid, tlv(0x31, value))
}

// attrSet encodes encoded attributes as a context-specific IMPLICIT SET OF
// (tag is the full identifier octet), with the elements in DER order.
func attrSet(tag byte, attrs [][]byte) []byte {
	slices.SortFunc(attrs, bytes.Compare)
	return tlv(tag, attrs...)
}

// tlv encodes one DER element with identifier octet tag whose contents are
// the concatenation of parts.
func tlv(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, 6+n)
	b = append(b, tag)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	case n < 0x10000:
		b = append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
