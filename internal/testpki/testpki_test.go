package testpki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"
)

func verify(t *testing.T, leaf *x509.Certificate, root *x509.Certificate, at time.Time) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// New's signer and TSA chain to its CA, and its PEM files hold the same
// certificates and the signer's key.
func TestNew(t *testing.T) {
	p := New(t, true)
	if _, ok := p.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("signer key is %T, want ECDSA", p.Key)
	}
	if len(p.Chain) != 2 || !p.Chain[1].Equal(p.CA) || !p.CA.IsCA {
		t.Fatalf("chain %v, CA %v", p.Chain, p.CA)
	}
	if err := verify(t, p.Chain[0], p.CA, time.Now()); err != nil {
		t.Errorf("signer: %v", err)
	}
	if err := verify(t, p.TSACert, p.CA, time.Now()); err != nil {
		t.Errorf("TSA: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(p.ChainPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(pair.Certificate) != 2 || string(pair.Certificate[0]) != string(p.Chain[0].Raw) || string(pair.Certificate[1]) != string(p.CA.Raw) {
		t.Error("chain.pem does not hold the signer and the CA")
	}
	for _, f := range []string{p.CAPEM, p.CertPEM} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

// Issue makes a distinct signer under the same CA, with the serial, name,
// expiry and extension asked for.
func TestIssue(t *testing.T) {
	p, err := Make(true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != "" || p.CAPEM != "" {
		t.Errorf("Make wrote files: %q", p.Dir)
	}
	if _, ok := p.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("Make(true) signer key is %T, want ECDSA", p.Key)
	}
	until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	key, chain := p.Issue(t, Cert{Serial: 42, CommonName: "Other", NotAfter: until})
	if _, ok := key.(*rsa.PrivateKey); !ok {
		t.Errorf("Issue key is %T, want RSA", key)
	}
	c := chain[0]
	if c.SerialNumber.Int64() != 42 || c.Subject.CommonName != "Other" || !c.NotAfter.Equal(until) || !chain[1].Equal(p.CA) {
		t.Errorf("issued %v %q until %v, chain to %v", c.SerialNumber, c.Subject.CommonName, c.NotAfter, chain[1].Subject)
	}
	if err := verify(t, c, p.CA, time.Now()); err != nil {
		t.Errorf("issued: %v", err)
	}
	if err := verify(t, c, p.CA, until.Add(time.Hour)); err == nil {
		t.Error("issued certificate still valid after its NotAfter")
	}
	_, again := p.Issue(t, Cert{})
	if again[0].SerialNumber.Cmp(p.Chain[0].SerialNumber) == 0 {
		t.Error("a default serial repeats the first signer's")
	}
}

// SelfSigned is its own issuer, with no CA.
func TestSelfSigned(t *testing.T) {
	p := SelfSigned(t, Cert{ECDSA: true, CommonName: "Alone"})
	if len(p.Chain) != 1 || p.CA != nil || p.CAPEM != "" {
		t.Fatalf("chain of %d, CA %v, CAPEM %q", len(p.Chain), p.CA, p.CAPEM)
	}
	c := p.Chain[0]
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not signed by its own key: %v", err)
	}
	if c.Subject.CommonName != "Alone" {
		t.Errorf("subject %q", c.Subject.CommonName)
	}
	if _, err := tls.LoadX509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		t.Error(err)
	}
}
