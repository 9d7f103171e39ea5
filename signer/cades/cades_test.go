package cades_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/cades"
	"github.com/signagent/signagent/signer/cms"
)

func TestSignVerifyWithOpenSSL(t *testing.T) {
	corpus, _ := filepath.Glob("../../testdata/corpus/XML-Rechnung/UBL/*.xml")
	content := []byte("<Invoice><ID>1</ID></Invoice>\n")
	if len(corpus) > 0 {
		b, err := os.ReadFile(corpus[0])
		if err != nil {
			t.Fatal(err)
		}
		content = b
	}
	for _, ec := range []bool{false, true} {
		p := testpki.New(t, ec)
		for _, bt := range []bool{false, true} {
			o := cms.Options{SigningTime: time.Now().Truncate(time.Second)}
			if bt {
				o.Timestamper = &cms.TSA{URL: p.TSA(t)}
			}
			sig, err := cades.Sign(context.Background(), bytes.NewReader(content), p.Key, p.Chain, o)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cades.Verify(sig, bytes.NewReader(content))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !info.SigningTime.Equal(o.SigningTime) || !info.HasSigningCertV2 || info.Timestamp.IsZero() == bt {
				t.Errorf("info = %+v", info)
			}
			flipped := append([]byte(nil), content...)
			flipped[len(flipped)/2] ^= 0x20
			if _, err := cades.Verify(sig, bytes.NewReader(flipped)); err == nil {
				t.Error("Verify accepted changed content")
			}
			openssl(t, p, sig, content, true)
			openssl(t, p, sig, flipped, false)
		}
	}
}

func openssl(t *testing.T, p *testpki.PKI, sig, content []byte, wantOK bool) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed; CI installs it")
	}
	dir := t.TempDir()
	s, f := filepath.Join(dir, "f.p7s"), filepath.Join(dir, "f.xml")
	os.WriteFile(s, sig, 0o600)
	os.WriteFile(f, content, 0o600)
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", s,
		"-content", f, "-CAfile", p.CAPEM, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if (err == nil) != wantOK {
		t.Errorf("openssl cms -verify: ok=%v, want %v\n%s", err == nil, wantOK, out)
	}
}
