package pades

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/signagent/signagent/internal/bufpool"
	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signing"
)

// Signature is one signature found in a PDF.
type Signature struct {
	Name, Reason, Location, SubFilter string
	// Time is the claimed signing time (/M), or the CMS signing-time.
	Time   time.Time
	Signer *x509.Certificate
	// Timestamped reports a valid signature timestamp token (B-T);
	// TimestampTime is the time it attests and TSA the authority that
	// signed it ("" when the token carries no certificate).
	Timestamped   bool
	TimestampTime time.Time
	TSA           string
	// DocTimestamp reports a document timestamp (/ETSI.RFC3161, PAdES
	// B-LTA) rather than a signature; Signer is then the TSA.
	DocTimestamp bool
	// CoversWholeDocument reports that the signed ranges reach the end of
	// the file, i.e. nothing was appended after this signature.
	CoversWholeDocument bool
	// Err is nil when the signature is cryptographically valid; trust in the
	// signer is not evaluated.
	Err error
}

// Verify returns every signature of the PDF at path, oldest first. It
// returns an error only when the file cannot be read as a PDF; a bad
// signature is reported in its Signature.Err.
func Verify(path string) ([]Signature, error) {
	sigs, _, err := verify(path, -1)
	return sigs, err
}

// Digests are SHA-256 digests of a file, taken in the read that verified
// its signatures.
type Digests struct {
	// File is the digest of every byte of the file.
	File []byte
	// Prefix is the digest of the file's first n bytes (n as given to
	// VerifyDigests); nil when the file is shorter.
	Prefix []byte
}

// VerifyDigests is Verify that also returns the SHA-256 of the whole file
// and of its first n bytes: what a caller needs to know that the file it
// checked is the one it publishes, and that an original of n bytes is
// its first revision. A file of up to memMax bytes is read once, into
// memory, and its signatures' ranges and both digests are hashed from
// there, sharing the common start.
func VerifyDigests(path string, n int64) ([]Signature, Digests, error) {
	if n < 0 {
		n = 0
	}
	return verify(path, n)
}

// VerifyTaken is VerifyDigests for an output Sign wrote with the digests
// t: the file is parsed and every signature verified as VerifyDigests
// does, but the new signature (the one whose /ByteRange is t.ByteRange)
// is verified against t.Signed instead of its ranges being read and
// hashed again, and the digests returned are t's. When no signature has
// that /ByteRange, the file is hashed as VerifyDigests hashes it. The new
// signature's /Contents string is read from the file and checked like any
// other; the file must be t.Size bytes long. Signatures the original
// already carried are verified in full. Like VerifyDigests, it reads a
// file of up to memMax bytes whole, at once: cheaper than the many small
// reads of parsing it in place.
func VerifyTaken(path string, t *signing.Written) ([]Signature, Digests, error) {
	if t == nil || len(t.Signed) != sha256.Size || len(t.Prefix) != sha256.Size || len(t.File) != sha256.Size {
		return nil, Digests{}, errors.New("pades: incomplete digests of the output")
	}
	return verifyWith(path, t.PrefixLen, t)
}

// memMax is the largest file verify reads whole into memory; a larger one
// is read piece by piece. Invoices are mostly far smaller; the bound keeps
// the buffers the pool holds (one per concurrent check) from weighing on
// the agent's memory.
var memMax int64 = 4 << 20

// fileBufs holds buffers for files read whole (*[]byte), so that checking
// every output does not allocate (and clear) its size each time.
var fileBufs sync.Pool

// verify is Verify; with want >= 0 it also takes the digests VerifyDigests
// returns.
func verify(path string, want int64) ([]Signature, Digests, error) {
	return verifyWith(path, want, nil)
}

// verifyWith is verify, with the digests Sign took when t is not nil.
func verifyWith(path string, want int64, t *signing.Written) ([]Signature, Digests, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Digests{}, fmt.Errorf("pades: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, Digests{}, fmt.Errorf("pades: %w", err)
	}
	size := st.Size()
	if t != nil && size != t.Size {
		return nil, Digests{}, fmt.Errorf("pades: the output has %d bytes, %d when it was signed", size, t.Size)
	}
	var r io.ReaderAt = f
	var mem []byte
	if size <= memMax {
		bp, _ := fileBufs.Get().(*[]byte)
		if bp == nil || int64(cap(*bp)) < size {
			// Room for the usual invoice sizes, so the buffer is reused
			// for the next document instead of replaced by a larger one.
			b := make([]byte, size, max(size, 512<<10))
			bp = &b
		}
		defer fileBufs.Put(bp)
		mem = (*bp)[:size]
		if _, err := f.ReadAt(mem, 0); err != nil && !(err == io.EOF && size == 0) {
			return nil, Digests{}, fmt.Errorf("pades: %w", err)
		}
		r = bytes.NewReader(mem)
	}
	if err := checkHeader(r, size); err != nil {
		return nil, Digests{}, err
	}
	d, err := open(r, size)
	if err != nil {
		return nil, Digests{}, docErr(err)
	}
	d.mem, d.want, d.taken = mem, want, t
	sigs, err := d.signatures()
	if err != nil || want < 0 {
		return sigs, Digests{}, err
	}
	if err := d.fileDigests(); err != nil {
		return nil, Digests{}, fmt.Errorf("pades: %w", err)
	}
	return sigs, d.digests, nil
}

// fileDigests completes d.digests with what verifying the signatures did
// not take on the way: one pass over the file for both.
func (d *pdf) fileDigests() error {
	if d.digests.File != nil && (d.digests.Prefix != nil || d.want > d.size) {
		return nil
	}
	h := sha256.New()
	var prefix []byte
	if d.mem != nil {
		if d.want <= d.size {
			h.Write(d.mem[:d.want])
			prefix = h.Sum(nil)
			h.Write(d.mem[d.want:])
		} else {
			h.Write(d.mem)
		}
	} else {
		bp := bufpool.Get()
		defer bufpool.Put(bp)
		first := min(d.want, d.size)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(d.r, 0, first), *bp); err != nil {
			return err
		}
		if d.want <= d.size {
			prefix = h.Sum(nil)
		}
		if _, err := io.CopyBuffer(h, io.NewSectionReader(d.r, first, d.size-first), *bp); err != nil {
			return err
		}
	}
	if d.digests.Prefix == nil {
		d.digests.Prefix = prefix
	}
	if d.digests.File == nil {
		d.digests.File = h.Sum(nil)
	}
	return nil
}

// signatures finds and verifies every signature field's value.
func (d *pdf) signatures() ([]Signature, error) {
	root, _ := d.trailer.get("Root")
	cat, err := d.resolve(root)
	if err != nil {
		return nil, docErr(err)
	}
	afv, _ := cat.get("AcroForm")
	af, err := d.resolve(afv)
	if err != nil {
		return nil, docErr(err)
	}
	fields, err := d.arrayOf(af, "Fields")
	if err != nil {
		return nil, docErr(err)
	}
	type found struct {
		sig    Signature
		signed int64
	}
	var out []found
	seen := map[int64]bool{}
	var walk func(fs []value, ft string, depth int) error
	walk = func(fs []value, ft string, depth int) error {
		if depth > 32 {
			return nil
		}
		for _, fr := range fs {
			if fr.k == kRef {
				if seen[-fr.num-1] {
					continue
				}
				seen[-fr.num-1] = true
			}
			fd, err := d.resolve(fr)
			if err != nil {
				return err
			}
			fft := ft
			if n := fd.name("FT"); n != "" {
				fft = n
			}
			if kids, _ := d.arrayOf(fd, "Kids"); len(kids) > 0 {
				if err := walk(kids, fft, depth+1); err != nil {
					return err
				}
			}
			v, ok := fd.get("V")
			if fft != "Sig" || !ok {
				continue
			}
			if v.k == kRef {
				if seen[v.num] {
					continue
				}
				seen[v.num] = true
			}
			sd, err := d.resolve(v)
			if err != nil {
				return err
			}
			if sd.k != kDict {
				continue
			}
			s, signed := d.verifySig(sd)
			out = append(out, found{s, signed})
		}
		return nil
	}
	if err := walk(fields, "", 0); err != nil {
		return nil, docErr(err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].signed < out[j].signed })
	sigs := make([]Signature, len(out))
	for i, f := range out {
		sigs[i] = f.sig
	}
	return sigs, nil
}

// verifySig checks one signature dictionary; it returns the signature and
// the number of bytes it covers.
func (d *pdf) verifySig(sd value) (Signature, int64) {
	str := func(k string) string {
		if v, ok := sd.get(k); ok && v.k == kString {
			return textString(v.str)
		}
		return ""
	}
	s := Signature{Name: str("Name"), Reason: str("Reason"), Location: str("Location"), SubFilter: sd.name("SubFilter")}
	if m := str("M"); m != "" {
		s.Time, _ = parseDate(m)
	}
	brv, _ := sd.get("ByteRange")
	var br [4]int64
	if brv.k != kArray || len(brv.arr) != 4 {
		s.Err = errors.New("no valid /ByteRange")
		return s, 0
	}
	for i, x := range brv.arr {
		if x.k != kInt || x.num < 0 {
			s.Err = errors.New("no valid /ByteRange")
			return s, 0
		}
		br[i] = x.num
	}
	signed := br[2] + br[3]
	s.CoversWholeDocument = signed == d.size
	if br[0] != 0 || br[1] >= br[2] || signed > d.size || br[2]-br[1] > 64<<20 {
		s.Err = fmt.Errorf("/ByteRange %v is not a valid range of this file", br)
		return s, signed
	}
	// The gap must be exactly the /Contents hex string.
	var gap []byte
	if d.mem != nil {
		gap = d.mem[br[1]:br[2]]
	} else {
		gap = make([]byte, br[2]-br[1])
		if _, err := d.r.ReadAt(gap, br[1]); err != nil {
			s.Err = fmt.Errorf("read signature: %w", err)
			return s, signed
		}
	}
	if gap[0] != '<' || gap[len(gap)-1] != '>' || len(bytes.Trim(gap[1:len(gap)-1], "0123456789abcdefABCDEF \r\n\t")) != 0 {
		s.Err = errors.New("/ByteRange does not exclude exactly the /Contents string")
		return s, signed
	}
	der := []byte(decodeHex(gap[1 : len(gap)-1]))
	switch s.SubFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
	case "ETSI.RFC3161":
		s.Err = verifyDocTimestamp(&s, der, d.r, br, d.dssCerts())
		return s, signed
	default:
		s.Err = fmt.Errorf("signature format /%s not supported", s.SubFilter)
		return s, signed
	}
	cs, err := cms.Parse(der)
	var hash crypto.Hash
	if err == nil {
		hash = cs.Hash()
	}
	if err == nil && !hash.Available() {
		err = fmt.Errorf("digest %v unavailable", hash)
	}
	if err != nil {
		s.Err = err
		return s, signed
	}
	var digest []byte
	if t := d.taken; t != nil && hash == crypto.SHA256 && br == t.ByteRange {
		// The signature Sign wrote: its digests are those Sign took. Any
		// other signature, and the file when none is that one, is hashed
		// from the file.
		digest = t.Signed
		d.digests = Digests{File: t.File, Prefix: t.Prefix}
	} else {
		h := hash.New()
		if err := d.hashRanges(h, hash, br); err != nil {
			s.Err = err
			return s, signed
		}
		digest = h.Sum(nil)
	}
	info, err := cs.Verify(digest)
	if err != nil {
		s.Err = err
		return s, signed
	}
	s.Signer = info.Signer
	s.Timestamped = !info.Timestamp.IsZero()
	s.TimestampTime, s.TSA = info.Timestamp, info.TSA
	if s.Time.IsZero() {
		s.Time = info.SigningTime
	}
	return s, signed
}

// hashRanges writes the signed ranges br of the file to h, a new hash of
// alg. From memory, a SHA-256 pass also takes the digests verify was asked
// for: the prefix on the way through the first range, and the whole file
// from a copy of the state where the two part.
func (d *pdf) hashRanges(h hash.Hash, alg crypto.Hash, br [4]int64) error {
	if d.mem == nil {
		bp := bufpool.Get()
		defer bufpool.Put(bp)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(d.r, 0, br[1]), *bp); err != nil {
			return err
		}
		_, err := io.CopyBuffer(h, io.NewSectionReader(d.r, br[2], br[3]), *bp)
		return err
	}
	m := d.mem
	if alg != crypto.SHA256 || d.want < 0 {
		h.Write(m[:br[1]])
		h.Write(m[br[2] : br[2]+br[3]])
		return nil
	}
	if p := d.want; d.digests.Prefix == nil && p <= br[1] {
		h.Write(m[:p])
		d.digests.Prefix = h.Sum(nil)
		h.Write(m[p:br[1]])
	} else {
		h.Write(m[:br[1]])
	}
	if c, ok := h.(hash.Cloner); ok && d.digests.File == nil && br[2]+br[3] == d.size {
		if whole, err := c.Clone(); err == nil {
			whole.Write(m[br[1]:])
			d.digests.File = whole.Sum(nil)
		}
	}
	h.Write(m[br[2] : br[2]+br[3]])
	return nil
}

// textString decodes a PDF text string (UTF-16BE with BOM, else bytes as
// Latin-1, close enough to PDFDocEncoding for names and reasons).
func textString(s string) string {
	if len(s) >= 2 && s[0] == 0xfe && s[1] == 0xff {
		var rs []rune
		u := make([]uint16, 0, len(s)/2)
		for i := 2; i+1 < len(s); i += 2 {
			u = append(u, uint16(s[i])<<8|uint16(s[i+1]))
		}
		for _, r := range string(utf16.Decode(u)) {
			rs = append(rs, r)
		}
		return string(rs)
	}
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return string(rs)
}

// parseDate reads a PDF date (D:YYYYMMDDHHmmSSOHH'mm').
func parseDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "D:")
	digits := 0
	for digits < len(s) && digits < 14 && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits < 4 {
		return time.Time{}, errors.New("bad date")
	}
	base := s[:digits] + "0101000000"[max(0, digits-4):]
	t, err := time.Parse("20060102150405", base[:14])
	if err != nil {
		return time.Time{}, err
	}
	rest := s[digits:]
	if len(rest) >= 3 && (rest[0] == '+' || rest[0] == '-') {
		hh, _ := strconv.Atoi(rest[1:3])
		mm := 0
		if r := strings.TrimLeft(rest[3:], "'"); len(r) >= 2 {
			mm, _ = strconv.Atoi(r[:2])
		}
		off := hh*3600 + mm*60
		if rest[0] == '-' {
			off = -off
		}
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off))
	}
	return t, nil
}

// verifyDocTimestamp checks a PAdES document timestamp (/ETSI.RFC3161): the
// /Contents is an RFC 3161 token whose message imprint is the digest of the
// signed byte ranges, signed by the TSA.
func verifyDocTimestamp(s *Signature, der []byte, r io.ReaderAt, br [4]int64, dss []*x509.Certificate) error {
	s.DocTimestamp, s.Timestamped = true, true
	ts, err := timestamp.Parse(der)
	if err != nil {
		return fmt.Errorf("document timestamp: %w", err)
	}
	s.Time = ts.Time
	if len(ts.Certificates) > 0 {
		s.Signer = ts.Certificates[0]
	}
	if !ts.AddTSACertificate {
		// B-LTA keeps the TSA certificate in the document security store
		// rather than in the token: check the token's signature with it.
		p7, err := pkcs7.Parse(der)
		if err != nil {
			return fmt.Errorf("document timestamp: %w", err)
		}
		if len(dss) == 0 {
			return errors.New("document timestamp carries no TSA certificate, and the document has no /DSS certificates: its signature cannot be checked")
		}
		p7.Certificates = dss
		if err := p7.Verify(); err != nil {
			return fmt.Errorf("document timestamp: %w", err)
		}
		if signer := p7.GetOnlySigner(); signer != nil {
			s.Signer = signer
		}
	}
	if !ts.HashAlgorithm.Available() {
		return fmt.Errorf("document timestamp: digest %v unavailable", ts.HashAlgorithm)
	}
	h := ts.HashAlgorithm.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, br[1])); err != nil {
		return err
	}
	if _, err := io.Copy(h, io.NewSectionReader(r, br[2], br[3])); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
		return errors.New("document timestamp does not match the document: the signed bytes were changed")
	}
	return nil
}

// dssCerts returns the certificates of the document security store
// (catalog /DSS /Certs), where PAdES B-LT/B-LTA keep validation material;
// nil when there is none or it cannot be read.
func (d *pdf) dssCerts() []*x509.Certificate {
	root, _ := d.trailer.get("Root")
	cat, err := d.resolve(root)
	if err != nil {
		return nil
	}
	dv, _ := cat.get("DSS")
	dss, err := d.resolve(dv)
	if err != nil {
		return nil
	}
	refs, err := d.arrayOf(dss, "Certs")
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for _, ref := range refs {
		if ref.k != kRef {
			continue
		}
		e, ok, err := d.entry(ref.num)
		if err != nil || !ok || e.typ != 1 {
			continue
		}
		_, _, dict, data, err := d.readObjectAt(e.off)
		if err != nil {
			continue
		}
		raw, err := d.decode(dict, data)
		if err != nil {
			continue
		}
		if c, err := x509.ParseCertificate(raw); err == nil {
			out = append(out, c)
		}
	}
	return out
}
