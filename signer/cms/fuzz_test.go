package cms_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signer/internal/testpki"
)

// FuzzVerify reads arbitrary DER as a signature container, as Verify does
// for the /Contents of every PDF signature met: it returns an error or an
// Info, never panics. The seeds are real containers (ECDSA and RSA, B-B and
// B-T) over a fixed content, so that mutations reach the signed and
// unsigned attributes and the timestamp token.
func FuzzVerify(f *testing.F) {
	sum := sha256.Sum256([]byte("<invoice>42</invoice>\n"))
	ec, rsa := testpki.New(f, true), testpki.New(f, false)
	tsa := &cms.TSA{URL: ec.TSA(f)}
	for _, c := range []struct {
		p  *testpki.PKI
		ts cms.Timestamper
	}{{ec, nil}, {ec, tsa}, {rsa, nil}} {
		der, err := cms.SignDigest(context.Background(), sum[:], c.p.Key, c.p.Chain, cms.Options{Timestamper: c.ts})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := cms.VerifyDigest(der, sum[:]); err != nil {
			f.Fatalf("seed does not verify: %v", err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, der []byte) {
		h, err := cms.DigestHash(der)
		if err != nil {
			return
		}
		if h != crypto.SHA256 {
			if !h.Available() {
				t.Fatalf("DigestHash returned the unavailable hash %v", h)
			}
			d := h.New()
			d.Write([]byte("<invoice>42</invoice>\n"))
			cms.VerifyDigestHash(der, h, d.Sum(nil))
			return
		}
		info, err := cms.VerifyDigest(der, sum[:])
		if err == nil && info.Signer == nil {
			t.Fatal("VerifyDigest accepted a container without naming its signer")
		}
	})
}
