package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// check never creates the development certificate (made by root, the
// service could not read it), says it will be made at the first run, and
// warns that it is not trusted.
func TestCheckDoesNotCreateDevCertificate(t *testing.T) {
	l := newLayout(t, `listen = "off"`)
	code, stdout, stderr := runCmd(t, nil, "check", "--config", l.cfg)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "created at the first run") || !strings.Contains(stdout, "NOT trusted") {
		t.Errorf("check output:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(l.data, "dev")); err == nil {
		t.Error("check created the development certificate")
	}
}

// check names the signing certificate and warns when it expires within 30
// days.
func TestCheckWarnsOfExpiringCertificate(t *testing.T) {
	l := newLayout(t, `listen = "off"`)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Faturas Lda signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10*24*time.Hour + time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(l.dir, "signer.pem"), filepath.Join(l.dir, "signer.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	writeConfig(t, l, `listen = "off"`, fmt.Sprintf("[backends.local]\ntype = \"local\"\ncertificate = %q\nkey_file = %q\n", certFile, keyFile), "")
	code, stdout, stderr := runCmd(t, nil, "check", "--config", l.cfg)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{`certificate "Faturas Lda signer"`, "expires in 10 day(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
}
