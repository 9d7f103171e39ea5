package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/bufpool"
	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signing"
)

// Visible places a visible signature: a widget with an appearance showing
// the signer's name and the date. Page is 1-based; the rectangle is in
// points from the page's lower-left corner.
type Visible struct {
	Page       int
	X, Y, W, H float64
}

// Options are the optional entries of the signature.
type Options struct {
	Reason, Location, Name, ContactInfo string
	// Time is the claimed signing time written to /M; zero means now.
	Time time.Time
	// Visible, when nil, makes an invisible widget (Rect [0 0 0 0]) on page 1.
	Visible *Visible
	// MaxSize refuses larger inputs with TOO_LARGE; 0 means no limit.
	MaxSize int64
	// Timestamper, when set, makes a B-T signature; nil makes B-B.
	Timestamper cms.Timestamper
	// Taken, when not nil, receives the digests Sign takes of the output
	// as it reads it back to sign it.
	Taken *signing.Written
}

// headerWindow is where the %PDF- header must appear.
const headerWindow = 1024

// Sign writes to out the PDF read from in with one more signature, an
// approval signature (no DocMDP) in PAdES baseline form. out is written
// from its start and cut to the signed document's length (earlier content
// is overwritten, never left behind); in is read from its start and not
// modified. The caller owns both files and closes them. On error out's
// content is meaningless (SignFile removes it).
//
// The document is copied to out (in the kernel where the platform allows),
// the update appended, and the signed ranges hashed by reading out back
// through one pooled 256 KiB buffer: memory use does not grow with the
// document.
//
// Document problems are *signagent.Error of kind KindDocument with codes
// EMPTY_FILE, TOO_LARGE, NOT_A_PDF, ENCRYPTED_PDF or CORRUPT_PDF. Key and
// timestamp authority errors come from package cms; I/O errors are returned
// wrapped.
func Sign(ctx context.Context, in *os.File, out *os.File, key crypto.Signer, chain []*x509.Certificate, o Options) error {
	if len(chain) == 0 || chain[0] == nil {
		return signagent.ConfigError("no signer certificate given", "configure the certificate that matches the signing key", nil)
	}
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("pades: stat input: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return signagent.DocError(signagent.CodeEmptyFile, "the file is empty", "drop the complete PDF again once it is fully written")
	}
	if o.MaxSize > 0 && size > o.MaxSize {
		return signagent.DocError(signagent.CodeTooLarge,
			fmt.Sprintf("the PDF is %d bytes, over the %d-byte limit", size, o.MaxSize),
			"raise the folder's size limit or split the document")
	}
	if err := checkHeader(in, size); err != nil {
		return err
	}
	d, err := open(in, size)
	if err != nil {
		return docErr(err)
	}
	if _, ok := d.trailer.get("Encrypt"); ok {
		return signagent.DocError(signagent.CodeEncryptedPDF, "the PDF is encrypted",
			"remove the password protection or encryption, then drop the document again")
	}
	if o.Time.IsZero() {
		o.Time = time.Now()
	}
	ost, err := out.Stat()
	if err != nil {
		return fmt.Errorf("pades: stat output: %w", err)
	}
	// written is how far out may hold earlier bytes: whatever lies past the
	// signed document is cut off at the end (not truncated to zero first,
	// which costs a journalled truncation and, on ext4, a flush at close).
	written := ost.Size()
	bp := bufpool.Get()
	defer bufpool.Put(bp)
	buf := *bp
	reserve := contentsReserve(chain, key, o.Timestamper != nil)
	for attempt := 0; ; attempt++ {
		u, err := buildUpdate(d, chain[0], o, reserve)
		if err != nil {
			return docErr(err)
		}
		total := u.base + int64(len(u.bytes))
		sig, whole, err := writeAndSign(ctx, in, out, size, u, key, chain, o, buf)
		if err != nil {
			return err
		}
		written = max(written, total)
		if 2*len(sig) <= u.contentsHexLen {
			h := hexUpper(buf[:0], sig)
			if _, err := out.WriteAt(h, u.base+u.contentsAt+1); err != nil {
				return fmt.Errorf("pades: write signature: %w", err)
			}
			if whole != nil {
				// The rest of the file as it now is: the /Contents string
				// (the signature, then the unused reserve) and what
				// follows it.
				gap := u.bytes[u.contentsAt : u.contentsAt+int64(u.contentsHexLen)+2]
				whole.Write(gap[:1])
				whole.Write(h)
				whole.Write(gap[1+len(h):])
				whole.Write(u.bytes[u.contentsAt+int64(u.contentsHexLen)+2:])
				o.Taken.File, o.Taken.Size = whole.Sum(nil), total
			}
			if written > total {
				if err := out.Truncate(total); err != nil {
					return fmt.Errorf("pades: truncate output: %w", err)
				}
			}
			return nil
		}
		if attempt > 0 {
			return signagent.DocError(signagent.CodeSigningError,
				fmt.Sprintf("the signature (%d bytes) does not fit the space reserved for it", len(sig)),
				"report this to the maintainers with the certificate chain used")
		}
		reserve = len(sig) + 4096
	}
}

// hexUpper appends the upper-case hexadecimal form of b to dst.
func hexUpper(dst, b []byte) []byte {
	const digits = "0123456789ABCDEF"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// SignFile signs inPath into a new file outPath (mode 0600, which must not
// exist). Any failure removes outPath, so no partial output is left.
func SignFile(ctx context.Context, inPath, outPath string, key crypto.Signer, chain []*x509.Certificate, o Options) (err error) {
	in, err := os.Open(inPath)
	if err != nil {
		return fmt.Errorf("pades: open input: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(outPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("pades: create output: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(outPath)
		}
	}()
	if err = Sign(ctx, in, out, key, chain, o); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return fmt.Errorf("pades: sync output: %w", err)
	}
	if err = out.Close(); err != nil {
		return fmt.Errorf("pades: close output: %w", err)
	}
	return nil
}

func checkHeader(in io.ReaderAt, size int64) error {
	n := int64(headerWindow)
	if n > size {
		n = size
	}
	buf := make([]byte, n)
	if _, err := in.ReadAt(buf, 0); err != nil && err != io.EOF {
		return fmt.Errorf("pades: read input: %w", err)
	}
	if !bytes.Contains(buf, []byte("%PDF-")) {
		return signagent.DocError(signagent.CodeNotAPDF, "the file is not a PDF (no %PDF- header)",
			"check that the file is really a PDF, or set the folder's signature type to cades")
	}
	return nil
}

// docErr turns a parse failure into CORRUPT_PDF; other errors pass.
func docErr(err error) error {
	var se *signagent.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, errCorrupt) || errors.Is(err, errEOF) {
		return signagent.DocError(signagent.CodeCorruptPDF,
			"the PDF is damaged or truncated: "+strings.TrimPrefix(err.Error(), "corrupt: "),
			"re-export the PDF from its source (or repair it, e.g. with qpdf) and drop it again")
	}
	return fmt.Errorf("pades: read input: %w", err)
}

// contentsReserve is the byte size reserved for the CMS signature.
func contentsReserve(chain []*x509.Certificate, key crypto.Signer, ts bool) int {
	n := 2048
	for _, c := range chain {
		if c != nil {
			n += len(c.Raw)
		}
	}
	n += 1024 // signature value (RSA-8192 at most)
	if ts {
		n += 12288
	}
	return n
}

// writeAndSign copies the input to out, appends u (its /ByteRange already
// filled in) and returns the CMS signature over the byte ranges read back
// from out through buf. With o.Taken set it fills in what that read
// gives on the way (ByteRange, Signed, Prefix) and returns the state of a
// digest of the whole file up to the /Contents string, for Sign to
// complete once the signature is in place.
func writeAndSign(ctx context.Context, in, out *os.File, size int64, u *update, key crypto.Signer, chain []*x509.Certificate, o Options, buf []byte) ([]byte, hash.Hash, error) {
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("pades: seek output: %w", err)
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("pades: seek input: %w", err)
	}
	n, err := io.Copy(out, io.LimitReader(in, size))
	if err != nil {
		return nil, nil, fmt.Errorf("pades: copy document: %w", err)
	}
	if n != size {
		return nil, nil, signagent.TransientError("the PDF shrank while it was being signed", "it is retried once it is settled", nil)
	}
	if _, err := out.Write(u.bytes); err != nil {
		return nil, nil, fmt.Errorf("pades: write update: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	total := u.base + int64(len(u.bytes))
	a := u.base + u.contentsAt
	b := a + int64(u.contentsHexLen) + 2
	h := sha256.New()
	t := o.Taken
	var whole hash.Hash
	if t != nil {
		// The original is the output's first size bytes (size <= u.base <
		// a): its digest is the state of h on the way.
		if err := hashRange(h, out, 0, size, buf); err != nil {
			return nil, nil, err
		}
		*t = signing.Written{ByteRange: [4]int64{0, a, b, total - b}, Prefix: h.Sum(nil), PrefixLen: size}
		if err := hashRange(h, out, size, a, buf); err != nil {
			return nil, nil, err
		}
		c, err := h.(hash.Cloner).Clone()
		if err != nil {
			return nil, nil, err
		}
		whole = c
	} else if err := hashRange(h, out, 0, a, buf); err != nil {
		return nil, nil, err
	}
	if err := hashRange(h, out, b, total, buf); err != nil {
		return nil, nil, err
	}
	signed := h.Sum(nil)
	if t != nil {
		t.Signed = signed
	}
	sig, err := cms.SignDigest(ctx, signed, key, chain, cms.Options{Timestamper: o.Timestamper})
	return sig, whole, err
}

// hashRange writes bytes [from, to) of f to h, reading through buf.
func hashRange(h hash.Hash, f *os.File, from, to int64, buf []byte) error {
	for from < to {
		n := min(int64(len(buf)), to-from)
		m, err := f.ReadAt(buf[:n], from)
		h.Write(buf[:m])
		from += int64(m)
		if err != nil && !(err == io.EOF && from == to) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("pades: read back output: %w", err)
		}
	}
	return nil
}
