package signstash

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
)

// errZipLayout reports a ZIP archive that streamZip does not read front to
// back, or whose local headers do not agree with its central directory:
// not necessarily a damaged one. The caller reads such an archive with
// archive/zip instead, which follows the central directory.
var errZipLayout = errors.New("ZIP layout not read as a stream")

// zipCut wraps a read error of the archive's own source: the download was
// cut, the archive is not known to be wrong.
type zipCut struct{ err error }

func (e zipCut) Error() string { return "the ZIP download was cut: " + e.err.Error() }
func (e zipCut) Unwrap() error { return e.err }

// eachErr carries an error of streamZip's caller through it unchanged.
type eachErr struct{ err error }

func (e eachErr) Error() string { return e.err.Error() }

func layoutErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errZipLayout, fmt.Sprintf(format, a...))
}

const (
	zipLocalSig      = 0x04034b50
	zipCentralSig    = 0x02014b50
	zipEndSig        = 0x06054b50
	zip64EndSig      = 0x06064b50
	zipDescriptorSig = 0x08074b50
	zip64ExtraID     = 0x0001
	zipMax32         = 0xffffffff
)

// zipSource reads the archive through its own buffer, counting the bytes
// taken (the offsets the central directory gives) and remembering a read
// error of the source itself. It is an io.ByteReader, so that a flate
// reader takes no byte past the end of its stream; it reads bytes one at
// a time from here, so the buffer is its own rather than a bufio.Reader's
// behind one more call.
type zipSource struct {
	r    io.Reader
	buf  []byte
	i, j int   // buf[i:j] is read and not yet taken
	base int64 // offset of buf[0]
	err  error // the source's own read error, io.EOF included
}

func newZipSource(r io.Reader) *zipSource { return &zipSource{r: r, buf: make([]byte, 64<<10)} }

// offset is the number of bytes taken.
func (s *zipSource) offset() int64 { return s.base + int64(s.i) }

// fill reads more of the source into an empty buffer.
func (s *zipSource) fill() error {
	if s.err != nil {
		return s.err
	}
	s.base += int64(s.j)
	s.i, s.j = 0, 0
	for s.j == 0 && s.err == nil {
		s.j, s.err = s.r.Read(s.buf)
		if s.j > 0 && s.err == io.EOF {
			s.err = nil // EOF again at the next read, with nothing
		}
	}
	if s.j > 0 {
		return nil
	}
	return s.err
}

func (s *zipSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.i == s.j {
		if len(p) >= len(s.buf) && s.err == nil {
			// Large reads go straight through.
			s.base += int64(s.j)
			s.i, s.j = 0, 0
			n, err := s.r.Read(p)
			s.base += int64(n)
			if err != nil && !(n > 0 && err == io.EOF) {
				s.err = err
			}
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.i:s.j])
	s.i += n
	return n, nil
}

func (s *zipSource) ReadByte() (byte, error) {
	if s.i == s.j {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.i]
	s.i++
	return b, nil
}

// full reads exactly len(p) bytes.
func (s *zipSource) full(p []byte) error {
	_, err := io.ReadFull(s, p)
	return err
}

// streamEntry is what the local header and the data of one entry said.
type streamEntry struct {
	name          string
	offset        int64
	flags, method uint16 // the flags that change how it is read: encrypted, sizes after the data
	crc           uint32
	csize, usize  uint64
}

// readFlags are the general purpose flags that change how an entry is
// read: encrypted (bit 0), sizes after the data (bit 3).
const readFlags = 0x1 | 0x8

// entryReader yields an entry's uncompressed bytes, hashing and counting
// them, at most max of them.
type entryReader struct {
	r   io.Reader
	crc hash.Hash32
	n   uint64
	max uint64
}

func (e *entryReader) Read(p []byte) (int, error) {
	if e.n >= e.max {
		// One byte more than max tells the caller the entry is larger.
		p = p[:min(len(p), 1)]
	}
	n, err := e.r.Read(p)
	e.crc.Write(p[:n])
	e.n += uint64(n)
	if e.n > e.max {
		return n, layoutErr("an entry inflates to more than %d bytes", e.max)
	}
	return n, err
}

// streamZip reads the ZIP archive r from front to back, without spooling
// it: for each entry in turn it calls each with the entry's name and a
// reader of its uncompressed content. What each leaves unread is read
// afterwards (at most max bytes an entry), and every entry is checked
// against its CRC-32 and sizes. Then the central directory must list
// exactly the entries read, in the same order, at the same offsets, with
// the same names, methods, flags, CRC-32 and sizes, no folder by its
// attributes alone, so that the entries are the ones archive/zip would
// read from the whole file; the archive must end with its end record,
// which must point at that directory.
//
// It returns errZipLayout (wrapped) for an archive it does not read that
// way, zipCut when reading r failed, and each's own errors as they are.
// Entries each was given before an error may have been taken by it.
func streamZip(r io.Reader, max uint64, each func(name string, content io.Reader) error) error {
	src := newZipSource(r)
	err := streamZipFrom(src, max, func(name string, content io.Reader) error {
		if err := each(name, content); err != nil {
			if src.err != nil {
				return err // the source failed under it: a cut, below
			}
			return eachErr{err}
		}
		return nil
	})
	var own eachErr
	switch {
	case err == nil:
		return nil
	case errors.As(err, &own):
		return own.err
	}
	switch {
	case src.err == nil:
		return err
	case src.err != io.EOF:
		return zipCut{src.err}
	}
	// The source ended before the archive did (a short entry reads as
	// one whose CRC-32 or size is wrong).
	return zipCut{io.ErrUnexpectedEOF}
}

func streamZipFrom(src *zipSource, max uint64, each func(name string, content io.Reader) error) error {
	var entries []streamEntry
	var hdr [30]byte
	for {
		offset := src.offset()
		if err := src.full(hdr[:4]); err != nil {
			return err
		}
		sig := binary.LittleEndian.Uint32(hdr[:4])
		if sig == zipCentralSig || sig == zipEndSig {
			return streamCentral(src, sig, offset, entries)
		}
		if sig != zipLocalSig {
			return layoutErr("no local header at offset %d", offset)
		}
		if err := src.full(hdr[4:]); err != nil {
			return err
		}
		e, err := streamEntryData(src, hdr[:], offset, max, each)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
}

// streamEntryData reads one entry after its local header's fixed part
// (hdr): its name and extra field, its data, and its data descriptor.
func streamEntryData(src *zipSource, hdr []byte, offset int64, max uint64, each func(string, io.Reader) error) (streamEntry, error) {
	le := binary.LittleEndian
	flags, method := le.Uint16(hdr[6:]), le.Uint16(hdr[8:])
	e := streamEntry{offset: offset, flags: flags & readFlags, method: method,
		crc: le.Uint32(hdr[14:]), csize: uint64(le.Uint32(hdr[18:])), usize: uint64(le.Uint32(hdr[22:]))}
	varPart := make([]byte, int(le.Uint16(hdr[26:]))+int(le.Uint16(hdr[28:])))
	if err := src.full(varPart); err != nil {
		return e, err
	}
	e.name = string(varPart[:le.Uint16(hdr[26:])])
	zip64 := false
	if e.csize == zipMax32 || e.usize == zipMax32 {
		sizes, ok := zip64Extra(varPart[le.Uint16(hdr[26:]):], 2)
		if !ok {
			return e, layoutErr("entry %q: sizes without their ZIP64 field", e.name)
		}
		e.usize, e.csize, zip64 = sizes[0], sizes[1], true
	}
	descriptor := flags&0x8 != 0
	switch {
	case flags&0x1 != 0:
		return e, layoutErr("entry %q is encrypted", e.name)
	case method == 0 && descriptor:
		return e, layoutErr("entry %q is stored with its size after its data", e.name)
	case method != 0 && method != 8:
		return e, layoutErr("entry %q: compression method %d", e.name, method)
	}
	start := src.offset()
	var data io.Reader
	var fr io.ReadCloser
	if method == 0 {
		data = io.LimitReader(src, int64(e.csize))
	} else {
		fr = flate.NewReader(src)
		defer fr.Close()
		data = fr
	}
	content := &entryReader{r: data, crc: crc32.NewIEEE(), max: max}
	if err := each(e.name, content); err != nil {
		return e, err
	}
	if _, err := io.Copy(io.Discard, content); err != nil {
		// An entry nobody asked for that does not inflate: archive/zip
		// would not have read it at all.
		return e, fmt.Errorf("%w: entry %q: %w", errZipLayout, e.name, err)
	}
	crc, csize, usize := content.crc.Sum32(), uint64(src.offset()-start), content.n
	if descriptor {
		// Its signature is optional; its sizes are 8 bytes each when the
		// local header had a ZIP64 field. A misreading cannot pass: the
		// values are checked against the data and the central directory.
		var d [16]byte
		if err := src.full(d[:4]); err != nil {
			return e, err
		}
		if le.Uint32(d[:4]) == zipDescriptorSig {
			if err := src.full(d[:4]); err != nil {
				return e, err
			}
		}
		e.crc = le.Uint32(d[:4])
		if zip64 {
			if err := src.full(d[:16]); err != nil {
				return e, err
			}
			e.csize, e.usize = le.Uint64(d[:8]), le.Uint64(d[8:])
		} else {
			if err := src.full(d[:8]); err != nil {
				return e, err
			}
			e.csize, e.usize = uint64(le.Uint32(d[:4])), uint64(le.Uint32(d[4:8]))
		}
	}
	if e.crc != crc || e.csize != csize || e.usize != usize {
		return e, layoutErr("entry %q: CRC-32 %08x, %d bytes from %d read; its header says %08x, %d from %d", e.name, crc, usize, csize, e.crc, e.usize, e.csize)
	}
	return e, nil
}

// zip64Extra returns the first n 8-byte values of the ZIP64 field of an
// extra field.
func zip64Extra(extra []byte, n int) ([]uint64, bool) {
	le := binary.LittleEndian
	for len(extra) >= 4 {
		id, size := le.Uint16(extra), int(le.Uint16(extra[2:]))
		extra = extra[4:]
		if size > len(extra) {
			return nil, false
		}
		if id == zip64ExtraID {
			if size < 8*n {
				return nil, false
			}
			vs := make([]uint64, n)
			for i := range vs {
				vs[i] = le.Uint64(extra[8*i:])
			}
			return vs, true
		}
		extra = extra[size:]
	}
	return nil, false
}

// streamCentral reads the central directory, whose first record's
// signature sig was read at offset, and the end records, and checks them
// against the entries read.
func streamCentral(src *zipSource, sig uint32, offset int64, entries []streamEntry) error {
	le := binary.LittleEndian
	var rec [46]byte
	sigAt := offset // where the signature last read starts
	i := 0
	for ; sig == zipCentralSig; i++ {
		if err := src.full(rec[4:]); err != nil {
			return err
		}
		varPart := make([]byte, int(le.Uint16(rec[28:]))+int(le.Uint16(rec[30:]))+int(le.Uint16(rec[32:])))
		if err := src.full(varPart); err != nil {
			return err
		}
		name := string(varPart[:le.Uint16(rec[28:])])
		crc, csize, usize, off := le.Uint32(rec[16:]), uint64(le.Uint32(rec[20:])), uint64(le.Uint32(rec[24:])), uint64(le.Uint32(rec[42:]))
		if usize == zipMax32 || csize == zipMax32 || off == zipMax32 {
			extra := varPart[le.Uint16(rec[28:]) : int(le.Uint16(rec[28:]))+int(le.Uint16(rec[30:]))]
			// The ZIP64 field holds, in this order, only the values
			// the record could not.
			want := 0
			for _, v := range []uint64{usize, csize, off} {
				if v == zipMax32 {
					want++
				}
			}
			got, ok := zip64Extra(extra, want)
			if !ok {
				return layoutErr("central record %q: values without their ZIP64 field", name)
			}
			for _, p := range []*uint64{&usize, &csize, &off} {
				if *p == zipMax32 {
					*p, got = got[0], got[1:]
				}
			}
		}
		if i >= len(entries) {
			return layoutErr("the central directory lists %q, which no local header holds", name)
		}
		flags, method := le.Uint16(rec[8:])&readFlags, le.Uint16(rec[10:])
		if e := entries[i]; e.name != name || e.flags != flags || e.method != method || e.crc != crc || e.csize != csize || e.usize != usize || uint64(e.offset) != off {
			return layoutErr("central record %d (%q) does not match its local header (%q)", i, name, e.name)
		}
		// A folder is known by its name alone while streaming; archive/zip
		// also reads the attributes the central record gives.
		fh := zip.FileHeader{Name: name, CreatorVersion: le.Uint16(rec[4:]), ExternalAttrs: le.Uint32(rec[38:])}
		if fh.Mode().IsDir() != strings.HasSuffix(name, "/") {
			return layoutErr("central record %q: a folder by its attributes only", name)
		}
		var s [4]byte
		sigAt = src.offset()
		if err := src.full(s[:]); err != nil {
			return err
		}
		sig = le.Uint32(s[:])
	}
	if i != len(entries) {
		return layoutErr("the central directory lists %d of the %d entries", i, len(entries))
	}
	if sig == zip64EndSig {
		// Only archives of more than 65,535 entries or 4 GiB need it;
		// archive/zip follows its offsets, which this reader would have
		// to check against what it read.
		return layoutErr("a ZIP64 end record")
	}
	if sig != zipEndSig {
		return layoutErr("no end record after the central directory")
	}
	var end [22]byte
	if err := src.full(end[4:]); err != nil {
		return err
	}
	// One disk, and the directory where it was read, as archive/zip
	// will look for it.
	disk, cdDisk, onDisk, count := le.Uint16(end[4:]), le.Uint16(end[6:]), le.Uint16(end[8:]), le.Uint16(end[10:])
	cdSize, cdOffset := le.Uint32(end[12:]), le.Uint32(end[16:])
	if disk != 0 || cdDisk != 0 || onDisk != count || int(count) != len(entries) || int64(cdOffset) != offset || int64(cdSize) != sigAt-offset {
		return layoutErr("the end record says %d entries, %d bytes from offset %d; read %d, %d bytes from %d", count, cdSize, cdOffset, len(entries), sigAt-offset, offset)
	}
	comment := make([]byte, le.Uint16(end[20:]))
	if err := src.full(comment); err != nil {
		return err
	}
	if bytes.Contains(comment, []byte("PK\x05\x06")) {
		return layoutErr("an end record inside the archive comment")
	}
	if _, err := src.ReadByte(); err != io.EOF {
		return layoutErr("data after the end record")
	}
	return nil
}
