// Package testpki makes throw-away certificate chains and a loopback RFC 3161
// timestamp authority for the signer tests.
//
// New returns a test CA (with the CA flag) and a leaf certificate carrying the
// documentSigning extended key usage (1.3.6.1.5.5.7.3.36), which is what
// pdfsig, pdfcpu and openssl expect from a document signer. The PEM files are
// written to a t.TempDir so command-line verifiers can be pointed at them.
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
// authority certificate issued by it.
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

	// Dir holds the PEM files below.
	Dir string
	// CAPEM is the path of the CA certificate in PEM.
	CAPEM string
	// CertPEM and KeyPEM are the signer certificate and its PKCS#8 key in PEM.
	CertPEM, KeyPEM string
	// ChainPEM is the signer certificate followed by the CA certificate.
	ChainPEM string
}

// New makes a fresh PKI. With ecdsa set the signer key is ECDSA P-256,
// otherwise RSA-2048. It fails the test on any error.
func New(t testing.TB, ecdsaKey bool) *PKI {
	t.Helper()
	now := time.Now()
	caKey := mustRSA(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Signagent Test CA", Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	ca := mustCert(t, caTmpl, caTmpl, caKey.Public(), caKey)

	var key crypto.Signer
	if ecdsaKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("testpki: ecdsa key: %v", err)
		}
		key = k
	} else {
		key = mustRSA(t)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "Signagent Test Signer", Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDDocumentSigning},
		SubjectKeyId:          ski(key.Public()),
	}
	leaf := mustCert(t, leafTmpl, ca, key.Public(), caKey)

	tsaKey := mustRSA(t)
	tsaTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(3),
		Subject:               pkix.Name{CommonName: "Signagent Test TSA", Organization: []string{"Signagent Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		SubjectKeyId:          ski(tsaKey.Public()),
	}
	tsaCert := mustCert(t, tsaTmpl, ca, tsaKey.Public(), caKey)

	p := &PKI{Key: key, Chain: []*x509.Certificate{leaf, ca}, CA: ca, CAKey: caKey, TSACert: tsaCert, TSAKey: tsaKey}
	p.Dir = t.TempDir()
	p.CAPEM = filepath.Join(p.Dir, "ca.pem")
	p.CertPEM = filepath.Join(p.Dir, "cert.pem")
	p.KeyPEM = filepath.Join(p.Dir, "key.pem")
	p.ChainPEM = filepath.Join(p.Dir, "chain.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	writePEM(t, p.CAPEM, "CERTIFICATE", ca.Raw)
	writePEM(t, p.CertPEM, "CERTIFICATE", leaf.Raw)
	writePEM(t, p.KeyPEM, "PRIVATE KEY", keyDER)
	writePEM(t, p.ChainPEM, "CERTIFICATE", leaf.Raw, ca.Raw)
	return p
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

func mustRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testpki: rsa key: %v", err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("testpki: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse certificate: %v", err)
	}
	return c
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
