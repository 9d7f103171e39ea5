package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCert makes a key and a certificate for subject cn, signed by parent
// (self-signed when parent is nil), and writes the chain and key as PEM
// into dir. It returns the certificate, its key and the two files.
func testCert(t *testing.T, dir, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool) (*x509.Certificate, *ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, BasicConstraintsValid: true, IsCA: ca}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if parent != tmpl {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: parent.Raw})...)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
	os.WriteFile(certFile, chain, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return c, key, certFile, keyFile
}

// TestSignNeverOverwrites: sign refuses to replace an existing output (the
// file stays as it was) unless --force; a detached signature gets a copy of
// its content beside it, as the agent publishes it; the default output
// folder is ./signed.
func TestSignNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	pdf, txt := filepath.Join(dir, "in", "invoice.pdf"), filepath.Join(dir, "in", "notes.txt")
	os.MkdirAll(filepath.Dir(pdf), 0o755)
	os.WriteFile(pdf, corpusPDF(t), 0o644)
	os.WriteFile(txt, []byte("plain notes\n"), 0o644)
	data := filepath.Join(dir, "data")
	t.Chdir(dir)

	code, stdout, stderr := runCmd(t, nil, "sign", "--data-dir", data, pdf, txt)
	if code != exitOK {
		t.Fatalf("sign: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, defaultSignOut)
	for _, f := range []string{"invoice.pdf", "notes.txt.p7s", "notes.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("sign without --out: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "notes.txt")); string(b) != "plain notes\n" {
		t.Errorf("content copy beside the .p7s: %q", b)
	}
	if code, stdout, stderr := runCmd(t, nil, "verify", filepath.Join(out, "notes.txt.p7s")); code != exitOK {
		t.Errorf("verify of the .p7s with its copied content: exit %d\n%s%s", code, stdout, stderr)
	}

	// Again: refused, the outputs untouched.
	os.WriteFile(filepath.Join(out, "invoice.pdf"), []byte("mine"), 0o644)
	code, _, stderr = runCmd(t, nil, "sign", "--data-dir", data, pdf)
	if code != exitFailure || !strings.Contains(stderr, "invoice.pdf already exists; not replaced") || !strings.Contains(stderr, "hint: pass --force") {
		t.Errorf("sign over an existing output: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "invoice.pdf")); string(b) != "mine" {
		t.Errorf("an existing output was replaced without --force")
	}
	code, _, stderr = runCmd(t, nil, "sign", "--data-dir", data, txt)
	if code != exitFailure || !strings.Contains(stderr, "already exists; not replaced") {
		t.Errorf("sign over an existing .p7s: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runCmd(t, nil, "sign", "--data-dir", data, "--force", pdf)
	if code != exitOK {
		t.Fatalf("sign --force: exit %d\n%s%s", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "invoice.pdf")); !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Errorf("sign --force did not replace the output")
	}
	if code, _, stderr := runCmd(t, nil, "sign", "-h"); code != exitOK || !strings.Contains(stderr, "usage: signagent sign ") ||
		!strings.Contains(stderr, `(default "signed")`) {
		t.Errorf("sign -h: exit %d\n%s", code, stderr)
	}
}

// TestVerifyTrustApartFromIntegrity: verify says whether each signature is
// intact and, apart, whether its signer is trusted, naming self-signed and
// untrusted chains; --json has one entry per file, unsigned ones included;
// a missing file exits 1.
func TestVerifyTrustApartFromIntegrity(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	for _, n := range []string{"self.txt", "leaf.txt", "dev.txt"} {
		os.WriteFile(filepath.Join(in, n), []byte(n+"\n"), 0o644)
	}
	unsigned := filepath.Join(in, "unsigned.pdf")
	os.WriteFile(unsigned, corpusPDF(t), 0o644)
	out := filepath.Join(dir, "out")
	_, _, selfCert, selfKey := testCert(t, dir, "Self Signer", nil, nil, false)
	ca, caKey, caFile, _ := testCert(t, dir, "Test Root", nil, nil, true)
	_, _, leafCert, leafKey := testCert(t, dir, "Leaf Signer", ca, caKey, false)
	for _, s := range []struct{ file, cert, key string }{
		{"self.txt", selfCert, selfKey}, {"leaf.txt", leafCert, leafKey}, {"dev.txt", "dev", ""},
	} {
		args := []string{"sign", "--data-dir", filepath.Join(dir, "data"), "--out", out, "--cert", s.cert}
		if s.key != "" {
			args = append(args, "--key", s.key)
		}
		args = append(args, filepath.Join(in, s.file))
		if code, stdout, stderr := runCmd(t, nil, args...); code != exitOK {
			t.Fatalf("sign %s: exit %d\n%s%s", s.file, code, stdout, stderr)
		}
	}
	self, leaf, dev := filepath.Join(out, "self.txt.p7s"), filepath.Join(out, "leaf.txt.p7s"), filepath.Join(out, "dev.txt.p7s")
	code, stdout, stderr := runCmd(t, nil, "verify", self, leaf, dev)
	if code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		self + ": signature 1: VALID (cades) signer \"CN=Self Signer\"",
		"  integrity: VALID\n  trust: NOT TRUSTED, self-signed certificate\n",
		"  integrity: VALID\n  trust: NOT TRUSTED, untrusted chain: issuer \"CN=Test Root\" does not lead to a trusted root\n",
		"  integrity: VALID\n  trust: NOT TRUSTED, development certificate, trusted by no one\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	// With its root trusted, the chain is.
	code, stdout, _ = runCmd(t, nil, "verify", "--ca", caFile, leaf)
	if code != exitOK || !strings.Contains(stdout, "  trust: trusted, chain to a trusted root (issuer \"CN=Test Root\")") {
		t.Errorf("verify --ca: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runCmd(t, nil, "verify", "--require-trust", self); code != exitInvalid {
		t.Errorf("verify --require-trust of a self-signed signature: exit %d, want %d", code, exitInvalid)
	}

	code, stdout, stderr = runCmd(t, nil, "verify", "--json", self, unsigned)
	var files []verifiedFile
	if err := json.Unmarshal([]byte(stdout), &files); err != nil || code != exitInvalid {
		t.Fatalf("verify --json: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	if len(files) != 2 || !files[0].Signed || len(files[0].Signatures) != 1 || !files[0].Signatures[0].Valid ||
		files[0].Signatures[0].Trusted || files[0].Signatures[0].Trust != "self-signed certificate" ||
		files[1].File != unsigned || files[1].Signed || !strings.Contains(files[1].Error, "no signature") {
		t.Errorf("verify --json entries:\n%s", stdout)
	}

	code, _, stderr = runCmd(t, nil, "verify", self, filepath.Join(dir, "missing.pdf"))
	if code != exitFailure || !strings.Contains(stderr, "missing.pdf") {
		t.Errorf("verify of a missing file: exit %d, want %d\n%s", code, exitFailure, stderr)
	}
}
