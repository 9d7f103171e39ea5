package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkChain(t *testing.T, p *testpki.PKI, chain []*x509.Certificate) {
	t.Helper()
	if len(chain) != 2 || !chain[0].Equal(p.Chain[0]) || !chain[1].Equal(p.CA) {
		t.Fatalf("chain = %d certificates, want leaf then CA", len(chain))
	}
}

func wantConfigErr(t *testing.T, err error, inMessage string) {
	t.Helper()
	if signagent.KindOf(err) != signagent.KindConfig || err == nil {
		t.Fatalf("err = %v, want a configuration error", err)
	}
	if !strings.Contains(err.Error(), inMessage) {
		t.Errorf("error %q does not mention %q", err, inMessage)
	}
	if signagent.HintOf(err) == "" {
		t.Errorf("error %q has no hint", err)
	}
}

func TestLoadPEM(t *testing.T) {
	for _, ec := range []bool{false, true} {
		p := testpki.New(t, ec)
		dir := t.TempDir()
		t.Run("chain and key files", func(t *testing.T) {
			key, chain, err := LoadCredentials(p.ChainPEM, p.KeyPEM, "")
			if err != nil {
				t.Fatal(err)
			}
			checkChain(t, p, chain)
			if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(p.Key.Public()) {
				t.Error("wrong key")
			}
		})
		t.Run("CA first, key inside, legacy key encoding", func(t *testing.T) {
			var keyPEM []byte
			switch k := p.Key.(type) {
			case *rsa.PrivateKey:
				keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
			case *ecdsa.PrivateKey:
				der, _ := x509.MarshalECPrivateKey(k)
				keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
			}
			all := append(readFile(t, p.CAPEM), keyPEM...)
			all = append(all, readFile(t, p.CertPEM)...)
			_, chain, err := LoadCredentials(writeFile(t, filepath.Join(dir, "all.pem"), all, 0o600), "", "")
			if err != nil {
				t.Fatal(err)
			}
			checkChain(t, p, chain)
		})
	}
	p := testpki.New(t, false)
	other := testpki.New(t, false)
	_, _, err := LoadCredentials(p.ChainPEM, "", "")
	wantConfigErr(t, err, "no private key")
	_, _, err = LoadCredentials(p.ChainPEM, other.KeyPEM, "")
	wantConfigErr(t, err, "no certificate matches the private key")
	_, _, err = LoadCredentials(filepath.Join(t.TempDir(), "missing.pem"), "", "")
	wantConfigErr(t, err, "does not exist")
	_, _, err = LoadCredentials(writeFile(t, filepath.Join(t.TempDir(), "junk.p12"), []byte("junk"), 0o600), "", "")
	wantConfigErr(t, err, "neither PEM nor a readable PKCS#12")
}

func TestLoadPKCS12(t *testing.T) {
	const password = "s3cret-Passw0rd"
	for _, ec := range []bool{false, true} {
		p := testpki.New(t, ec)
		dir := t.TempDir()
		pwFile := writeFile(t, filepath.Join(dir, "p12.pass"), []byte(password+"\n"), 0o600)

		files := map[string]string{}
		if bin, err := exec.LookPath("openssl"); err == nil {
			out := filepath.Join(dir, "openssl.p12")
			cmd := exec.Command(bin, "pkcs12", "-export", "-inkey", p.KeyPEM, "-in", p.CertPEM,
				"-certfile", p.CAPEM, "-out", out, "-passout", "file:"+pwFile)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl pkcs12 -export: %v\n%s", err, b)
			}
			files["openssl"] = out
		} else {
			t.Log("openssl not installed: skipping the openssl-made PKCS#12")
		}
		modern, err := pkcs12.Modern.Encode(p.Key, p.Chain[0], []*x509.Certificate{p.CA}, password)
		if err != nil {
			t.Fatal(err)
		}
		files["modern"] = writeFile(t, filepath.Join(dir, "modern.pfx"), modern, 0o600)

		for name, path := range files {
			t.Run(name, func(t *testing.T) {
				_, chain, err := LoadCredentials(path, "", pwFile)
				if err != nil {
					t.Fatal(err)
				}
				checkChain(t, p, chain)

				wrong := writeFile(t, filepath.Join(t.TempDir(), "wrong"), []byte("not-it\n"), 0o600)
				_, _, err = LoadCredentials(path, "", wrong)
				wantConfigErr(t, err, "wrong password")
				if strings.Contains(err.Error(), "not-it") || strings.Contains(signagent.HintOf(err), "not-it") {
					t.Error("the error shows the password")
				}
				_, _, err = LoadCredentials(path, "", "")
				wantConfigErr(t, err, "wrong password")
				_, _, err = LoadCredentials(path, "", filepath.Join(dir, "missing.pass"))
				wantConfigErr(t, err, "does not exist")
			})
		}
	}
}

func TestPasswordFilePermissionsWarn(t *testing.T) {
	const password = "hunter2-long"
	p := testpki.New(t, true)
	dir := t.TempDir()
	der, err := pkcs12.Modern.Encode(p.Key, p.Chain[0], []*x509.Certificate{p.CA}, password)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, filepath.Join(dir, "s.p12"), der, 0o600)
	pw := writeFile(t, filepath.Join(dir, "pass"), []byte(password), 0o600)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, _, err := loadCredentials(path, "", pw, log); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("warning for a 0600 password file: %s", logs.String())
	}
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCredentials(path, "", pw, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "readable by other users") {
		t.Errorf("no warning for a 0644 password file: %q", logs.String())
	}
	if strings.Contains(logs.String(), password) {
		t.Error("the log shows the password")
	}
}

func TestDevCredentials(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	now := time.Now()
	key, chain, err := DevCredentials(dataDir, log, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := chain[0]
	if leaf.Subject.CommonName != DevCommonName || !chain[1].IsCA || leaf.CheckSignatureFrom(chain[1]) != nil {
		t.Fatalf("unexpected chain: %v / %v", leaf.Subject, chain[1].Subject)
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		t.Errorf("key is %T, want RSA", key)
	}
	if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Error("missing digitalSignature/nonRepudiation")
	}
	hasDocSigning := false
	for _, o := range leaf.UnknownExtKeyUsage {
		hasDocSigning = hasDocSigning || o.Equal(oidDocumentSigning)
	}
	if !hasDocSigning || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection {
		t.Error("missing documentSigning/emailProtection EKU")
	}
	if chain[1].NotAfter.Sub(now) < 9*365*24*time.Hour {
		t.Errorf("CA valid until %v, want ten years", chain[1].NotAfter)
	}
	dir := filepath.Join(dataDir, "dev")
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dev dir mode: %v %v", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), st.Mode().Perm())
		}
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if b, _ := pem.Decode(ca); err != nil || b == nil || !bytes.Equal(b.Bytes, chain[1].Raw) {
		t.Error("dev/ca.pem is not the CA certificate")
	}
	if !strings.Contains(logs.String(), "NOT trusted") {
		t.Errorf("no loud warning: %s", logs.String())
	}

	logs.Reset()
	_, again, err := DevCredentials(dataDir, log, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("second load made a new certificate")
	}
	if !strings.Contains(logs.String(), "NOT trusted") {
		t.Error("no warning on the second load")
	}
}

func TestDevCredentialsConcurrentCreation(t *testing.T) {
	dataDir := t.TempDir()
	const n = 4
	serials := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, chain, err := DevCredentials(dataDir, slog.New(slog.DiscardHandler), time.Now())
			errs[i] = err
			if err == nil {
				serials[i] = chain[0].SerialNumber.String()
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if serials[i] != serials[0] {
			t.Fatalf("concurrent creators ended with different certificates: %v", serials)
		}
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only dev/: %v", len(entries), entries)
	}
}
