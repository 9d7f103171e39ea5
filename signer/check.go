package signer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/signagent/signagent/signer/cades"
	"github.com/signagent/signagent/signer/pades"
	"github.com/signagent/signagent/signer/xades"
	"github.com/signagent/signagent/signing"
)

// ErrContentChanged is returned (wrapped) by CheckOutput when the original
// it was given does not hold the bytes the caller recorded.
var ErrContentChanged = errors.New("the original's bytes differ from the recorded ones")

// CheckOutput verifies a signed artefact of type t at out, made from an
// original of size bytes whose SHA-256 is sum (hex), before it is
// published. Every backend's output is checked the same way:
//
//   - PAdES: the PDF's signatures all verify, the last one covers the whole
//     file, and the original is an unchanged first revision (the first size
//     bytes of out hash to sum);
//   - XAdES: the document carries signatures and all of them verify;
//   - CAdES: the detached signature verifies against content, which must
//     hash to sum (ErrContentChanged otherwise).
//
// content streams the original; it is read only for CAdES. A nil error
// means the output may be published; the string is then the output's
// SHA-256 (hex), taken in the same read as the check, so that what is
// recorded as published is what was checked.
//
// written, when not nil, are the digests the local signer took of a PAdES
// output as it signed it (signing.Result.Written): the check then parses
// the file and verifies its signatures as above, the new one against
// written's digest of its ranges, which were read back from the file to
// be signed, instead of reading and hashing them a second time. It is
// ignored for other types and for outputs of another original length.
func CheckOutput(t signing.Type, out string, content io.Reader, size int64, sum string, written *signing.Written) (string, error) {
	switch t {
	case signing.TypePAdES:
		return checkPDF(out, size, sum, written)
	case signing.TypeXAdES:
		f, err := os.Open(out)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		infos, err := xades.Verify(io.TeeReader(f, h))
		if err != nil {
			return "", fmt.Errorf("the signed XML cannot be verified: %w", err)
		}
		for i, in := range infos {
			if in.Err != nil {
				return "", fmt.Errorf("XML signature %d of %d does not verify: %w", i+1, len(infos), in.Err)
			}
		}
		// Verify may stop before the end: the digest is of every byte.
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	case signing.TypeCAdES:
		sig, err := os.ReadFile(out)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		if _, err := cades.Verify(sig, io.TeeReader(content, h)); err != nil {
			if _, cerr := io.Copy(h, content); cerr != nil {
				return "", cerr
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != sum {
				return "", fmt.Errorf("%w: SHA-256 %s", ErrContentChanged, got)
			}
			return "", fmt.Errorf("the detached signature does not verify: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			return "", fmt.Errorf("%w: SHA-256 %s", ErrContentChanged, got)
		}
		outSum := sha256.Sum256(sig)
		return hex.EncodeToString(outSum[:]), nil
	}
	return "", fmt.Errorf("unknown signature type %q", t)
}

func checkPDF(out string, size int64, sum string, written *signing.Written) (string, error) {
	var sigs []pades.Signature
	var dg pades.Digests
	var err error
	if written != nil && written.PrefixLen == size {
		sigs, dg, err = pades.VerifyTaken(out, written)
	} else {
		sigs, dg, err = pades.VerifyDigests(out, size)
	}
	if err != nil {
		return "", fmt.Errorf("the signed PDF cannot be read back: %w", err)
	}
	if len(sigs) == 0 {
		return "", errors.New("the signed PDF carries no signature a reader can find")
	}
	for i, s := range sigs {
		if s.Err != nil {
			return "", fmt.Errorf("PDF signature %d of %d does not verify: %w", i+1, len(sigs), s.Err)
		}
	}
	if !sigs[len(sigs)-1].CoversWholeDocument {
		return "", errors.New("the new PDF signature does not cover the whole file")
	}
	if dg.Prefix == nil || hex.EncodeToString(dg.Prefix) != sum {
		return "", errors.New("the signed PDF does not keep the original document unchanged as its first revision")
	}
	return hex.EncodeToString(dg.File), nil
}
