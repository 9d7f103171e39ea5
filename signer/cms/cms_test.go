package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/cms"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, ec := range []bool{false, true} {
		name := map[bool]string{false: "rsa", true: "ecdsa"}[ec]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testpki.New(t, ec)
			content := []byte("<invoice>42</invoice>\n")
			sum := sha256.Sum256(content)
			der, err := cms.SignDigest(context.Background(), sum[:], p.Key, p.Chain, cms.Options{})
			if err != nil {
				t.Fatal(err)
			}
			info, err := cms.VerifyDigest(der, sum[:])
			if err != nil {
				t.Fatalf("VerifyDigest: %v", err)
			}
			if !info.Signer.Equal(p.Chain[0]) || len(info.Chain) != 2 || !info.HasSigningCertV2 {
				t.Errorf("info = %+v", info)
			}
			if !info.SigningTime.IsZero() || !info.Timestamp.IsZero() {
				t.Errorf("B-B signature carries times: %+v", info)
			}
			other := sha256.Sum256([]byte("<invoice>43</invoice>\n"))
			if _, err := cms.VerifyDigest(der, other[:]); err == nil {
				t.Error("VerifyDigest accepted another digest")
			}
			// Flip one byte of the signature value (near the end, before any
			// unsigned attributes: there are none here).
			bad := append([]byte(nil), der...)
			bad[len(bad)-5] ^= 0x01
			if _, err := cms.VerifyDigest(bad, sum[:]); err == nil {
				t.Error("VerifyDigest accepted a damaged signature")
			}
			opensslVerify(t, p, der, content, true)
			opensslVerify(t, p, der, []byte("<invoice>43</invoice>\n"), false)
		})
	}
}

func TestSigningTimeAttribute(t *testing.T) {
	p := testpki.New(t, true)
	sum := sha256.Sum256([]byte("x"))
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	der, err := cms.SignDigest(context.Background(), sum[:], p.Key, p.Chain, cms.Options{SigningTime: when})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cms.VerifyDigest(der, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if !info.SigningTime.Equal(when) {
		t.Errorf("signing time = %v, want %v", info.SigningTime, when)
	}
}

func TestTimestamp(t *testing.T) {
	p := testpki.New(t, false)
	tsa := &cms.TSA{URL: p.TSA(t)}
	content := []byte("timestamped content")
	sum := sha256.Sum256(content)
	der, err := cms.SignDigest(context.Background(), sum[:], p.Key, p.Chain, cms.Options{Timestamper: tsa})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cms.VerifyDigest(der, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if info.Timestamp.IsZero() || time.Since(info.Timestamp) > time.Hour {
		t.Errorf("timestamp = %v", info.Timestamp)
	}
	opensslVerify(t, p, der, content, true)
}

func TestTSAErrors(t *testing.T) {
	p := testpki.New(t, false)
	sum := sha256.Sum256([]byte("x"))
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "busy") {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer fail.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	secretURL := strings.Replace(fail.URL, "http://", "http://user:s3cret@", 1)
	cases := []struct {
		url  string
		kind signagent.Kind
	}{
		{secretURL + "/busy?token=s3cret", signagent.KindTransient},
		{closedURL + "/?token=s3cret", signagent.KindTransient},
		{secretURL + "/forbidden", signagent.KindConfig},
	}
	for _, c := range cases {
		_, err := cms.SignDigest(context.Background(), sum[:], p.Key, p.Chain, cms.Options{Timestamper: &cms.TSA{URL: c.url}})
		if err == nil {
			t.Fatalf("%s: no error", c.url)
		}
		if got := signagent.KindOf(err); got != c.kind {
			t.Errorf("%s: kind %v, want %v (%v)", c.url, got, c.kind, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks a credential: %v", err)
		}
		var se *signagent.Error
		if !errors.As(err, &se) {
			t.Errorf("not a *signagent.Error: %v", err)
		}
	}
}

func TestRefusesMismatchedKey(t *testing.T) {
	a, b := testpki.New(t, true), testpki.New(t, true)
	sum := sha256.Sum256([]byte("x"))
	_, err := cms.SignDigest(context.Background(), sum[:], a.Key, b.Chain, cms.Options{})
	if signagent.KindOf(err) != signagent.KindConfig {
		t.Fatalf("err = %v, want a configuration error", err)
	}
}

// opensslVerify runs openssl cms -verify on the detached signature.
func opensslVerify(t *testing.T, p *testpki.PKI, der, content []byte, wantOK bool) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed; CI installs it")
	}
	dir := t.TempDir()
	sig, data := filepath.Join(dir, "f.p7s"), filepath.Join(dir, "f.xml")
	os.WriteFile(sig, der, 0o600)
	os.WriteFile(data, content, 0o600)
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
		"-content", data, "-CAfile", p.CAPEM, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	if (err == nil) != wantOK {
		t.Errorf("openssl cms -verify: ok=%v, want %v\n%s", err == nil, wantOK, out)
	}
}

// issue makes an ECDSA P-256 signer certificate under p's CA, valid for an
// hour, with an extra non-critical extension of pad bytes (0 for none).
func issue(t *testing.T, p *testpki.PKI, serial int64, pad int) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	c := testpki.Cert{ECDSA: true, Serial: serial, CommonName: fmt.Sprintf("Signer %d", serial), NotAfter: time.Now().Add(time.Hour)}
	if pad > 0 {
		c.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: bytes.Repeat([]byte{0x04}, pad)}}
	}
	return p.Issue(t, c)
}

// TestManySigners signs with more signer certificates than the encoder keeps
// parts of, twice round, and checks each signature names its own signer.
func TestManySigners(t *testing.T) {
	p := testpki.New(t, true)
	type signer struct {
		key   crypto.Signer
		chain []*x509.Certificate
	}
	var signers []signer
	for i := range 24 {
		k, c := issue(t, p, int64(100+i), 0)
		signers = append(signers, signer{k, c})
	}
	sum := sha256.Sum256([]byte("many"))
	for round := range 2 {
		for i, s := range signers {
			der, err := cms.SignDigest(context.Background(), sum[:], s.key, s.chain, cms.Options{})
			if err != nil {
				t.Fatal(err)
			}
			info, err := cms.VerifyDigest(der, sum[:])
			if err != nil {
				t.Fatalf("round %d signer %d: %v", round, i, err)
			}
			if !info.Signer.Equal(s.chain[0]) || !info.HasSigningCertV2 {
				t.Fatalf("round %d signer %d: signature names %s", round, i, info.Signer.Subject)
			}
		}
	}
}

// TestLongEncodings embeds a signer certificate of over 64 KiB, so that the
// SignedData needs three-byte DER lengths, and has openssl check it.
func TestLongEncodings(t *testing.T) {
	p := testpki.New(t, true)
	key, chain := issue(t, p, 7, 70000)
	if len(chain[0].Raw) < 70000 {
		t.Fatalf("certificate is only %d bytes", len(chain[0].Raw))
	}
	content := []byte("long")
	sum := sha256.Sum256(content)
	der, err := cms.SignDigest(context.Background(), sum[:], key, chain, cms.Options{SigningTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cms.VerifyDigest(der, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if !info.Signer.Equal(chain[0]) || len(info.Chain) != 2 || info.SigningTime.IsZero() {
		t.Errorf("info = %+v", info)
	}
	opensslVerify(t, &testpki.PKI{CAPEM: p.CAPEM}, der, content, true)
}
