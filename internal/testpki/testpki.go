// Package testpki makes throw-away certificates and a loopback RFC 3161
// timestamp authority for the tests and benchmarks that sign.
//
// New returns a test CA (with the CA flag), a signer certificate issued by
// it carrying the documentSigning extended key usage (1.3.6.1.5.5.7.3.36),
// which is what pdfsig, pdfcpu and openssl expect from a document signer,
// and a timestamp authority certificate. The PEM files are written to a
// t.TempDir so command-line verifiers and configuration files can be
// pointed at them. Issue adds signers under the same CA; SelfSigned makes a
// lone certificate without a CA; Make is New for programs, without files.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// OIDDocumentSigning is the documentSigning extended key usage.
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// PKI is a test CA, a signer certificate issued by it and a timestamp
// authority certificate issued by it; or, from SelfSigned, a lone signer
// certificate (CA, CAKey, TSACert, TSAKey and CAPEM unset).
type PKI struct {
	// Key is the signer's private key (RSA-2048 or ECDSA P-256).
	Key crypto.Signer
	// Chain is the signer certificate followed by the CA certificate.
	Chain []*x509.Certificate
	// CA is the root certificate and CAKey its key (always RSA-2048).
	CA    *x509.Certificate
	CAKey crypto.Signer
	// TSACert and TSAKey sign timestamp tokens (EKU timeStamping, critical).
	TSACert *x509.Certificate
	TSAKey  crypto.Signer

	// Dir holds the PEM files below (empty from Make).
	Dir string
	// CAPEM is the path of the CA certificate in PEM.
	CAPEM string
	// CertPEM and KeyPEM are the signer certificate and its PKCS#8 key in PEM.
	CertPEM, KeyPEM string
	// ChainPEM is the signer certificate followed by the CA certificate.
	ChainPEM string
}

// Cert describes a signer certificate for Issue and SelfSigned. Zero fields
// take the defaults.
type Cert struct {
	// ECDSA gives the signer an ECDSA P-256 key, otherwise RSA-2048.
	ECDSA bool
	// CommonName is the subject's (default "Signagent Test Signer").
	CommonName string
	// Serial is the serial number (default a random one).
	Serial int64
	// NotAfter is the expiry (default 24 hours from now). Every
	// certificate is valid from an hour ago.
	NotAfter time.Time
	// Extensions are added to the certificate as they are.
	Extensions []pkix.Extension
}

// New makes a fresh PKI. With ecdsaKey set the signer key is ECDSA P-256,
// otherwise RSA-2048. It fails the test on any error.
func New(t testing.TB, ecdsaKey bool) *PKI {
	t.Helper()
	p, err := Make(ecdsaKey)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	p.writeFiles(t)
	return p
}

// Make makes the PKI New makes, for programs: it returns errors and writes
// no files.
func Make(ecdsaKey bool) (*PKI, error) {
	now := time.Now()
	caKey, err := newKey(false)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Signagent Test CA", Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	ca, err := createCert(caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, CAKey: caKey}
	if p.Key, p.Chain, err = p.issue(Cert{ECDSA: ecdsaKey, Serial: 2}); err != nil {
		return nil, err
	}

	if p.TSAKey, err = newKey(false); err != nil {
		return nil, err
	}
	tsaTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(3),
		Subject:               pkix.Name{CommonName: "Signagent Test TSA", Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		SubjectKeyId:          ski(p.TSAKey.Public()),
	}
	if p.TSACert, err = createCert(tsaTmpl, ca, p.TSAKey.Public(), caKey); err != nil {
		return nil, err
	}
	return p, nil
}

// Issue makes another signer certificate under p's CA and returns its key
// and chain (the certificate, then the CA certificate).
func (p *PKI) Issue(t testing.TB, c Cert) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	key, chain, err := p.issue(c)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return key, chain
}

// SelfSigned makes a PKI of one self-signed signer certificate, signed by
// its own key: Key, Chain (the certificate alone), CertPEM, KeyPEM and
// ChainPEM are set.
func SelfSigned(t testing.TB, c Cert) *PKI {
	t.Helper()
	key, err := newKey(c.ECDSA)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	tmpl, err := signerTemplate(c, key)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	cert, err := createCert(tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	p := &PKI{Key: key, Chain: []*x509.Certificate{cert}}
	p.writeFiles(t)
	return p
}

func (p *PKI) issue(c Cert) (crypto.Signer, []*x509.Certificate, error) {
	key, err := newKey(c.ECDSA)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := signerTemplate(c, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := createCert(tmpl, p.CA, key.Public(), p.CAKey)
	if err != nil {
		return nil, nil, err
	}
	return key, []*x509.Certificate{cert, p.CA}, nil
}

// signerTemplate is the certificate c describes for key.
func signerTemplate(c Cert, key crypto.Signer) (*x509.Certificate, error) {
	now := time.Now()
	if c.CommonName == "" {
		c.CommonName = "Signagent Test Signer"
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = now.Add(24 * time.Hour)
	}
	serial := big.NewInt(c.Serial)
	if c.Serial == 0 {
		var err error
		if serial, err = rand.Int(rand.Reader, big.NewInt(1<<62)); err != nil {
			return nil, err
		}
		serial.Add(serial, big.NewInt(1000))
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: c.CommonName, Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              c.NotAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDDocumentSigning},
		SubjectKeyId:          ski(key.Public()),
		ExtraExtensions:       c.Extensions,
	}, nil
}

// writeFiles writes p's certificates and key in PEM to a t.TempDir.
func (p *PKI) writeFiles(t testing.TB) {
	t.Helper()
	p.Dir = t.TempDir()
	p.CertPEM = filepath.Join(p.Dir, "cert.pem")
	p.KeyPEM = filepath.Join(p.Dir, "key.pem")
	p.ChainPEM = filepath.Join(p.Dir, "chain.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	var chain [][]byte
	for _, c := range p.Chain {
		chain = append(chain, c.Raw)
	}
	writePEM(t, p.CertPEM, "CERTIFICATE", p.Chain[0].Raw)
	writePEM(t, p.KeyPEM, "PRIVATE KEY", keyDER)
	writePEM(t, p.ChainPEM, "CERTIFICATE", chain...)
	if p.CA != nil {
		p.CAPEM = filepath.Join(p.Dir, "ca.pem")
		writePEM(t, p.CAPEM, "CERTIFICATE", p.CA.Raw)
	}
}

// TSA starts a loopback RFC 3161 timestamp authority signing with the PKI's
// TSA certificate and returns its URL. It is closed when the test ends.
// Every response embeds the TSA certificate.
func (p *PKI) TSA(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ts := &timestamp.Timestamp{
			HashAlgorithm:     req.HashAlgorithm,
			HashedMessage:     req.HashedMessage,
			Time:              time.Now(),
			Nonce:             req.Nonce,
			Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
			Ordering:          false,
			AddTSACertificate: true,
		}
		resp, err := ts.CreateResponseWithOpts(p.TSACert, p.TSAKey, crypto.SHA256)
		if err != nil {
			http.Error(w, "tsa failure", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func ski(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

// newKey makes an ECDSA P-256 key or an RSA-2048 one.
func newKey(ecdsaKey bool) (crypto.Signer, error) {
	if ecdsaKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("ecdsa key: %w", err)
		}
		return k, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("rsa key: %w", err)
	}
	return k, nil
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return c, nil
}

func writePEM(t testing.TB, path, typ string, ders ...[]byte) {
	t.Helper()
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatalf("testpki: %v", err)
	}
}
