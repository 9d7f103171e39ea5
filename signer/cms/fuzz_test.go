package cms_test

import (
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/signagent/signagent/signer/cms"
)

// FuzzVerify reads arbitrary DER as a signature container, as Verify does
// for the /Contents of every PDF signature met: it returns an error or an
// Info, never panics. The seeds in testdata/fuzz/FuzzVerify are real
// containers (ECDSA and RSA, B-B and B-T with its timestamp token) over
// the content below, so that mutations reach the signed and unsigned
// attributes and the token.
func FuzzVerify(f *testing.F) {
	content := []byte("<invoice>42</invoice>\n")
	sum := sha256.Sum256(content)
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := cms.Parse(der)
		if err != nil {
			return
		}
		if h := s.Hash(); h != crypto.SHA256 {
			if !h.Available() {
				t.Fatalf("Parse returned the unavailable hash %v", h)
			}
			d := h.New()
			d.Write(content)
			s.Verify(d.Sum(nil))
			return
		}
		info, err := cms.VerifyDigest(der, sum[:])
		if err == nil && info.Signer == nil {
			t.Fatal("VerifyDigest accepted a container without naming its signer")
		}
	})
}
