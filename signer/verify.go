package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/signagent/signagent/signer/cades"
	"github.com/signagent/signagent/signer/pades"
	"github.com/signagent/signagent/signer/xades"
	"github.com/signagent/signagent/signing"
)

// Verification is the offline check of one signature of a file.
type Verification struct {
	File  string
	Type  signing.Type
	Index int // 0-based position of the signature in the file
	// Valid reports that the signature is intact and covers the content.
	// Trust in the signer's certificate is not evaluated.
	Valid bool
	// Signer is the subject of the signer's certificate.
	Signer string
	// Time is the claimed signing time (the PDF's /M, the signing-time
	// attribute): the signer's own clock, not proof of anything.
	Time        time.Time
	Timestamped bool
	// TimestampTime is the time attested by the signature timestamp
	// token, and TSA the authority that signed it; zero and "" without a
	// timestamp (TSA is also "" when the token carries no certificate).
	TimestampTime time.Time
	TSA           string
	// Detail is one line for people: why the signature is invalid, or
	// remarks on a valid one (development certificate, later changes).
	Detail string
	Err    error
	// Certificate is the signer's certificate and Chain the other
	// certificates the signature carries (nil where not read), for the
	// caller's trust decision, which Valid leaves out.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
}

// ErrUnsigned is returned (wrapped) by VerifyFile for a file without
// signatures.
var ErrUnsigned = errors.New("no signature found")

// VerifyFile checks the signatures of a signed file offline: a .pdf (PAdES,
// every signature), a .xml (XAdES, every ds:Signature) or a .p7s (detached
// CAdES, against the content file of the same name without .p7s). It returns
// one Verification per signature. The error result is for files that cannot
// be checked: unreadable, of another type, or unsigned (ErrUnsigned).
func VerifyFile(ctx context.Context, path string) ([]Verification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pdf":
		return verifyPDF(path)
	case ".xml":
		return verifyXML(path)
	case ".p7s":
		return verifyP7S(path)
	}
	if _, err := os.Stat(path + ".p7s"); err == nil {
		return verifyP7S(path + ".p7s")
	}
	return nil, fmt.Errorf("verify %s: not a signed file type: give a .pdf, a .xml or a detached .p7s signature", path)
}

func describe(c *x509.Certificate) (subject, detail string) {
	if c == nil {
		return "", ""
	}
	subject = c.Subject.String()
	if c.Subject.CommonName == DevCommonName {
		detail = "signed with the development certificate: not trusted"
	}
	return subject, detail
}

func joinDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func verifyPDF(path string) ([]Verification, error) {
	sigs, err := pades.Verify(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("verify %s: %w: the PDF carries no signature", path, ErrUnsigned)
	}
	out := make([]Verification, len(sigs))
	for i, s := range sigs {
		signer, dev := describe(s.Signer)
		v := Verification{File: path, Type: signing.TypePAdES, Index: i, Signer: signer, Time: s.Time,
			Timestamped: s.Timestamped, TimestampTime: s.TimestampTime, TSA: s.TSA, Err: s.Err, Certificate: s.Signer}
		kind := ""
		if s.DocTimestamp {
			kind = "document timestamp"
		}
		switch {
		case s.Err != nil:
			v.Detail = joinDetail(kind, s.Err.Error())
		case !s.CoversWholeDocument && i == len(sigs)-1:
			// The signed revision is intact; bytes were appended after it.
			// That is how validation data (PAdES B-LT) is added, and also
			// how a later change would be: say so rather than hide it.
			v.Valid = true
			v.Detail = joinDetail(kind, "valid for its revision; the file was extended after it by an incremental update (validation data or a later change)", dev)
		case !s.CoversWholeDocument:
			v.Valid = true
			v.Detail = joinDetail(kind, "valid for its revision; later signatures follow", dev)
		default:
			v.Valid = true
			v.Detail = joinDetail(kind, dev)
		}
		out[i] = v
	}
	return out, nil
}

func verifyXML(path string) ([]Verification, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	defer f.Close()
	infos, err := xades.Verify(f)
	if errors.Is(err, xades.ErrNoSignature) {
		return nil, fmt.Errorf("verify %s: %w: the XML document carries no XML signature", path, ErrUnsigned)
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	out := make([]Verification, len(infos))
	for i, in := range infos {
		signer, dev := describe(in.Signer)
		v := Verification{File: path, Type: signing.TypeXAdES, Index: i, Signer: signer, Time: in.SigningTime,
			Timestamped: !in.Timestamp.IsZero(), TimestampTime: in.Timestamp, Valid: in.Err == nil, Err: in.Err, Detail: dev,
			Certificate: in.Signer, Chain: in.Chain}
		if in.Err != nil {
			v.Detail = in.Err.Error()
		}
		out[i] = v
	}
	return out, nil
}

func verifyP7S(path string) ([]Verification, error) {
	sig, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	contentPath := strings.TrimSuffix(path, filepath.Ext(path))
	content, err := os.Open(contentPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("verify %s: the signed content %s is missing: a detached signature is checked against the file beside it",
			path, filepath.Base(contentPath))
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	defer content.Close()
	v := Verification{File: path, Type: signing.TypeCAdES}
	info, err := cades.Verify(sig, content)
	if err != nil {
		v.Err = err
		v.Detail = err.Error()
		return []Verification{v}, nil
	}
	var dev string
	v.Signer, dev = describe(info.Signer)
	v.Time, v.Timestamped, v.Valid = info.SigningTime, !info.Timestamp.IsZero(), true
	v.TimestampTime, v.TSA = info.Timestamp, info.TSA
	v.Certificate, v.Chain = info.Signer, info.Chain
	v.Detail = dev
	return []Verification{v}, nil
}
