package cades

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/signagent/signagent/signer/cms"
)

// Sign streams content through SHA-256 and returns a detached DER CAdES
// signature by key, whose certificate is chain[0]. o.SigningTime is the
// signing-time attribute CAdES-B-B recommends; callers normally set it.
// A read error from content is returned wrapped; the caller owns content.
func Sign(ctx context.Context, content io.Reader, key crypto.Signer, chain []*x509.Certificate, o cms.Options) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, content); err != nil {
		return nil, fmt.Errorf("cades: read content: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return cms.SignDigest(ctx, h.Sum(nil), key, chain, o)
}

// Verify checks a detached signature against content (streamed). It checks
// the signature mathematics and any timestamp, not trust in the signer.
func Verify(sig []byte, content io.Reader) (*cms.Info, error) {
	cs, err := cms.Parse(sig)
	if err != nil {
		return nil, err
	}
	hash := cs.Hash()
	if !hash.Available() {
		return nil, fmt.Errorf("cades: digest %v unavailable", hash)
	}
	h := hash.New()
	if _, err := io.Copy(h, content); err != nil {
		return nil, fmt.Errorf("cades: read content: %w", err)
	}
	return cs.Verify(h.Sum(nil))
}
