package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/signagent/signagent/signing"
)

// xent is one cross-reference entry.
type xent struct {
	typ byte // 0 free, 1 at offset, 2 in object stream
	off int64
	gen int
	stm int64 // object stream number (typ 2)
	idx int   // index in the object stream (typ 2)
}

// pdf is a lazily read PDF: its cross-reference sections and latest
// trailer. Entries are decoded only when an object is looked up.
type pdf struct {
	r    io.ReaderAt
	size int64
	// base is the file offset of the %PDF- header. Offsets written in the
	// file count from it, as qpdf and poppler read them: a file with junk
	// before its header is otherwise read as if the junk were not there.
	base      int64
	startxref int64
	secs      []*xsec // cross-reference sections, newest first
	trailer   value   // the latest trailer dictionary
	xrefIsStm bool    // the latest cross-reference section is a stream
	objstms   map[int64]*objStream

	// tail is the end of the file, read once; tailAt is its offset.
	tail   []byte
	tailAt int64
	// wins are the last pieces of text read elsewhere, reused when an
	// object lies inside one.
	wins []textWindow

	// mem is the whole file when verify read it into memory (r then reads
	// from it); want is the prefix length whose digest verify takes (-1:
	// no digests), and digests what it has taken so far.
	mem     []byte
	want    int64
	digests Digests
	// taken, when verifying an output Sign just wrote, are the digests it
	// took of it.
	taken *signing.Written
}

// textWindow is a piece of the file: b read at offset at.
type textWindow struct {
	at int64
	b  []byte
}

// xsec is one cross-reference section: a classic table, kept as text, or a
// stream, kept decoded.
type xsec struct {
	b      []byte // the table text, or the stream's decoded rows
	stream bool
	w      [3]int // field widths of a stream's rows
	subs   []xsub
	// stm is the cross-reference stream (/XRefStm) completing a hybrid
	// file's table: its entries win over the table's free ones.
	stm *xsec
}

// xsub is a run of count entries numbered from start.
type xsub struct {
	start, count int64
	at           int    // offset in b of the first entry (a table), or its row (a stream)
	ents         []xent // a table's entries decoded up front when not in the standard layout
}

type objStream struct {
	data  []byte
	first int64
	offs  []int64
	nums  []int64
}

const (
	maxWindow     = 32 << 20 // largest object text we read
	maxDecoded    = 64 << 20 // largest decoded xref or object stream
	maxXrefChains = 10000
	tailSize      = 16 << 10 // how much of the end of the file open reads
	maxObjNum     = 8388607  // the largest object number (ISO 32000-1, annex C)
	maxWins       = 8        // pieces of text kept for reuse
)

var errCorrupt = errors.New("corrupt")

func corruptf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, a...)...)
}

// open reads the cross-reference chain of the PDF in r.
func open(r io.ReaderAt, size int64) (*pdf, error) {
	d := &pdf{r: r, size: size}
	head := make([]byte, min(int64(headerWindow), size))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	if i := bytes.Index(head, []byte("%PDF-")); i > 0 {
		d.base = int64(i)
	}
	tail := min(int64(tailSize), size)
	d.tail = make([]byte, tail)
	d.tailAt = size - tail
	if _, err := r.ReadAt(d.tail, d.tailAt); err != nil && err != io.EOF {
		return nil, err
	}
	off, err := d.findStartxref()
	if err != nil {
		return nil, err
	}
	d.startxref = off
	seen := map[int64]bool{}
	first := true
	for off > 0 {
		if seen[off] || len(seen) > maxXrefChains {
			return nil, corruptf("cross-reference chain loops")
		}
		seen[off] = true
		sec, trailer, err := d.readSection(off)
		if err != nil {
			return nil, err
		}
		if first {
			d.trailer, d.xrefIsStm, first = trailer, sec.stream, false
		}
		d.secs = append(d.secs, sec)
		if xs, ok := trailer.get("XRefStm"); ok && xs.k == kInt && !seen[xs.num] {
			// A hybrid file: the stream completes this section's table.
			seen[xs.num] = true
			if sec.stm, _, err = d.readSection(xs.num); err != nil {
				return nil, err
			}
		}
		off = 0
		if p, ok := trailer.get("Prev"); ok && p.k == kInt {
			off = p.num
			if off <= 0 || off >= size-d.base {
				return nil, corruptf("bad /Prev offset")
			}
		}
	}
	// Readers give up on object numbers beyond the limit: an update
	// numbered after such a /Size would be invisible to them.
	if s, ok := d.trailer.get("Size"); ok && s.k == kInt && (s.num < 0 || s.num > maxObjNum+1) {
		return nil, corruptf("the trailer's /Size %d is beyond the limit of %d objects", s.num, maxObjNum)
	}
	return d, nil
}

// orphanUpdate matches what, after the last startxref, would be part of an
// update whose own startxref is missing: objects or cross-reference data.
var orphanUpdate = regexp.MustCompile(`[0-9]+[ \t\r\n\f\x00]+[0-9]+[ \t\r\n\f\x00]+obj|xref|trailer`)

// findStartxref returns the offset given by the last startxref of the file.
// What follows it (garbage after %%EOF, repeated %%EOF markers, however
// long) is ignored, as careful readers ignore it, unless it looks like
// objects or cross-reference data: that would be an update we cannot see,
// which another reader might show, and signing on top of the revision
// before it would drop it.
func (d *pdf) findStartxref() (int64, error) {
	const chunk, overlap = 64 << 10, 64
	buf, at := d.tail, d.tailAt
	for {
		if i := bytes.LastIndex(buf, []byte("startxref")); i >= 0 {
			l := &lexer{b: buf, p: i + len("startxref")}
			off, ok := l.uint()
			if !ok || off <= 0 || off >= d.size-d.base {
				return 0, corruptf("bad startxref offset")
			}
			if orphanUpdate.Match(buf[l.p:]) {
				return 0, corruptf("objects follow the last startxref (an update is incomplete)")
			}
			return off, nil
		}
		if orphanUpdate.Match(buf) {
			return 0, corruptf("objects follow the last startxref (an update is incomplete)")
		}
		if at == 0 {
			return 0, corruptf("no startxref (the file is truncated)")
		}
		// Read the piece before, overlapping this one so that a keyword
		// across the boundary is seen whole.
		start := max(0, at-chunk)
		buf = make([]byte, min(at+overlap, d.size)-start)
		if _, err := d.r.ReadAt(buf, start); err != nil && err != io.EOF {
			return 0, err
		}
		at = start
	}
}

// entry returns the cross-reference entry of object num in force: the one
// of the newest section listing it.
func (d *pdf) entry(num int64) (xent, bool, error) {
	for _, s := range d.secs {
		e, ok, err := s.find(num)
		if err != nil {
			return xent{}, false, err
		}
		if s.stm != nil && (!ok || e.typ == 0) {
			e2, ok2, err := s.stm.find(num)
			if err != nil {
				return xent{}, false, err
			}
			if ok2 {
				return e2, true, nil
			}
		}
		if ok {
			return e, true, nil
		}
	}
	return xent{}, false, nil
}

// find returns the entry of num in s, if s lists it.
func (s *xsec) find(num int64) (xent, bool, error) {
	for _, sub := range s.subs {
		i := num - sub.start
		if i < 0 || i >= sub.count {
			continue
		}
		switch {
		case sub.ents != nil:
			return sub.ents[i], true, nil
		case s.stream:
			e, ok := s.row(sub.at + int(i))
			if ok {
				return e, true, nil
			}
		default:
			at := sub.at + 20*int(i)
			e, ok := tableEntry(s.b[at : at+20])
			if !ok {
				return xent{}, false, corruptf("bad cross-reference entry for object %d", num)
			}
			return e, true, nil
		}
	}
	return xent{}, false, nil
}

// row decodes row n of a cross-reference stream; rows of unknown types are
// not entries.
func (s *xsec) row(n int) (xent, bool) {
	rowLen := s.w[0] + s.w[1] + s.w[2]
	pos := n * rowLen
	field := func(n int, def int64) int64 {
		if n == 0 {
			return def
		}
		var v int64
		for _, c := range s.b[pos : pos+n] {
			v = v<<8 | int64(c)
		}
		pos += n
		return v
	}
	t := field(s.w[0], 1)
	a := field(s.w[1], 0)
	b := field(s.w[2], 0)
	switch t {
	case 0:
		return xent{typ: 0}, true
	case 1:
		return xent{typ: 1, off: a, gen: int(b)}, true
	case 2:
		return xent{typ: 2, stm: a, idx: int(b)}, true
	}
	return xent{}, false
}

// tableEntry decodes a standard 20-byte table entry
// "oooooooooo ggggg n\r\n" (the end of line may also be " \n", " \r").
func tableEntry(b []byte) (xent, bool) {
	if len(b) != 20 || b[10] != ' ' || b[16] != ' ' || !isEOLPad(b[18]) || (b[19] != '\n' && b[19] != '\r') {
		return xent{}, false
	}
	var off, gen int64
	for _, c := range b[:10] {
		if c < '0' || c > '9' {
			return xent{}, false
		}
		off = off*10 + int64(c-'0')
	}
	for _, c := range b[11:16] {
		if c < '0' || c > '9' {
			return xent{}, false
		}
		gen = gen*10 + int64(c-'0')
	}
	switch b[17] {
	case 'n':
		return xent{typ: 1, off: off, gen: int(gen)}, true
	case 'f':
		return xent{typ: 0, gen: int(gen)}, true
	}
	return xent{}, false
}

func isEOLPad(c byte) bool { return c == ' ' || c == '\r' || c == '\n' }

// window reads object text at off (counted from the header), growing until
// parse succeeds. Text in the tail open read is not read again.
func (d *pdf) window(off int64, parse func(b []byte) error) error {
	off += d.base
	if off < 0 || off >= d.size {
		return corruptf("offset %d outside the file", off)
	}
	if off >= d.tailAt {
		err := parse(d.tail[off-d.tailAt:])
		if errors.Is(err, errEOF) {
			return corruptf("object at offset %d runs past the end of the file", off)
		}
		return err
	}
	if d.mem != nil {
		// The whole file is at hand: what a larger window would give.
		err := parse(d.mem[off:])
		if errors.Is(err, errEOF) {
			return corruptf("object at offset %d runs past the end of the file", off)
		}
		return err
	}
	// Objects often lie close together: try the text already read.
	for _, w := range d.wins {
		if off >= w.at && off < w.at+int64(len(w.b)) {
			if err := parse(w.b[off-w.at:]); !errors.Is(err, errEOF) {
				return err
			}
			break
		}
	}
	n := int64(4096)
	for {
		if n > d.size-off {
			n = d.size - off
		}
		buf := make([]byte, n)
		if _, err := d.r.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
		if len(d.wins) == maxWins {
			d.wins = append(d.wins[:0], d.wins[1:]...)
		}
		d.wins = append(d.wins, textWindow{at: off, b: buf})
		err := parse(buf)
		if !errors.Is(err, errEOF) {
			return err
		}
		if off+n >= d.size || n >= maxWindow {
			return corruptf("object at offset %d runs past the end of the file", off)
		}
		n *= 4
	}
}

// readSection reads the cross-reference section at off and returns it with
// its trailer (for a stream, the stream dictionary).
func (d *pdf) readSection(off int64) (*xsec, value, error) {
	var trailer value
	sec := &xsec{}
	err := d.window(off, func(b []byte) error {
		l := &lexer{b: b}
		l.skipWS()
		if !bytes.HasPrefix(b[l.p:], []byte("xref")) {
			sec.stream = true
			return nil
		}
		l.p += 4
		sec.b, sec.subs = b, sec.subs[:0]
		for {
			l.skipWS()
			if l.p >= len(b) {
				return errEOF
			}
			if bytes.HasPrefix(b[l.p:], []byte("trailer")) {
				l.p += len("trailer")
				t, err := l.value()
				if err != nil {
					return err
				}
				if t.k != kDict {
					return corruptf("trailer is not a dictionary")
				}
				trailer = t
				return nil
			}
			start, ok1 := l.uint()
			count, ok2 := l.uint()
			if !ok1 || !ok2 {
				if l.p >= len(b)-20 {
					return errEOF
				}
				return corruptf("bad cross-reference subsection at %d", off)
			}
			if count > maxWindow/20 || start+count-1 > maxObjNum {
				return corruptf("cross-reference subsection at %d too long", off)
			}
			l.skipWS()
			sub := xsub{start: start, count: count, at: l.p}
			if end := l.p + 20*int(count); count == 0 || end <= len(b) && standardEntries(b[l.p:end]) {
				l.p = end
				sec.subs = append(sec.subs, sub)
				continue
			}
			// Not the standard layout (or not all read yet): tokenize.
			sub.ents = make([]xent, 0, min(count, int64(len(b)/16)))
			for i := int64(0); i < count; i++ {
				o, ok1 := l.uint()
				g, ok2 := l.uint()
				kw := l.keyword()
				if l.p >= len(b) {
					return errEOF
				}
				if !ok1 || !ok2 || (kw != "n" && kw != "f") {
					return corruptf("bad cross-reference entry at %d", off)
				}
				e := xent{typ: 1, off: o, gen: int(g)}
				if kw == "f" {
					e = xent{typ: 0, gen: int(g)}
				}
				sub.ents = append(sub.ents, e)
			}
			sec.subs = append(sec.subs, sub)
		}
	})
	if err != nil || !sec.stream {
		return sec, trailer, err
	}
	// A cross-reference stream.
	_, _, dict, data, err := d.readObjectAt(off)
	if err != nil {
		return nil, value{}, err
	}
	if dict.name("Type") != "XRef" {
		return nil, value{}, corruptf("startxref does not point to a cross-reference section")
	}
	raw, err := d.decode(dict, data)
	if err != nil {
		return nil, value{}, corruptf("cross-reference stream: %v", err)
	}
	wv, _ := dict.get("W")
	if wv.k != kArray || len(wv.arr) != 3 {
		return nil, value{}, corruptf("cross-reference stream without /W")
	}
	for i, x := range wv.arr {
		if x.k != kInt || x.num < 0 || x.num > 8 {
			return nil, value{}, corruptf("bad /W")
		}
		sec.w[i] = int(x.num)
	}
	rowLen := int64(sec.w[0] + sec.w[1] + sec.w[2])
	if rowLen == 0 {
		return nil, value{}, corruptf("bad /W")
	}
	var index []int64
	if iv, ok := dict.get("Index"); ok && iv.k == kArray {
		for _, x := range iv.arr {
			index = append(index, x.num)
		}
	} else {
		sz, _ := dict.get("Size")
		index = []int64{0, sz.num}
	}
	rows := int64(0)
	for i := 0; i+1 < len(index); i += 2 {
		if index[i] < 0 || index[i]+index[i+1]-1 > maxObjNum || index[i+1] < 0 || index[i+1] > int64(len(raw)) ||
			(rows+index[i+1])*rowLen > int64(len(raw)) {
			return nil, value{}, corruptf("cross-reference stream too short")
		}
		sec.subs = append(sec.subs, xsub{start: index[i], count: index[i+1], at: int(rows)})
		rows += index[i+1]
	}
	sec.b = raw
	return sec, dict, nil
}

// standardEntries reports whether b holds only standard 20-byte entries;
// the first and last are checked in full, the others by their end of line.
func standardEntries(b []byte) bool {
	if _, ok := tableEntry(b[:20]); !ok {
		return false
	}
	if _, ok := tableEntry(b[len(b)-20:]); !ok {
		return false
	}
	for i := 39; i < len(b); i += 20 {
		if b[i] != '\n' && b[i] != '\r' {
			return false
		}
	}
	return true
}

// readObjectAt parses "N G obj value" at off. For a stream it also returns
// the raw (undecoded) stream data.
func (d *pdf) readObjectAt(off int64) (num int64, gen int, v value, data []byte, err error) {
	if off < 0 || off >= d.size-d.base {
		return 0, 0, value{}, nil, corruptf("object offset %d outside the file", off)
	}
	var streamAt int64 = -1
	err = d.window(off, func(b []byte) error {
		l := &lexer{b: b}
		n, ok1 := l.uint()
		g, ok2 := l.uint()
		kw := l.keyword()
		if l.p >= len(b) {
			return errEOF
		}
		if !ok1 || !ok2 || kw != "obj" {
			return corruptf("no object at offset %d", off)
		}
		x, err := l.value()
		if err != nil {
			return err
		}
		next := l.keyword()
		if l.p >= len(b) && next != "endobj" {
			return errEOF
		}
		num, gen, v = n, int(g), x
		if next == "stream" {
			if l.p < len(b) && b[l.p] == '\r' {
				l.p++
			}
			if l.p < len(b) && b[l.p] == '\n' {
				l.p++
			}
			streamAt = d.base + off + int64(l.p)
		}
		return nil
	})
	if err != nil {
		return 0, 0, value{}, nil, err
	}
	if streamAt >= 0 {
		lv, _ := v.get("Length")
		if lv.k == kRef {
			if lv, err = d.resolve(lv); err != nil {
				return 0, 0, value{}, nil, err
			}
		}
		if lv.k != kInt || lv.num < 0 || streamAt+lv.num > d.size || lv.num > maxDecoded {
			return 0, 0, value{}, nil, corruptf("bad stream length at offset %d", off)
		}
		data = make([]byte, lv.num)
		if _, err := d.r.ReadAt(data, streamAt); err != nil && err != io.EOF {
			return 0, 0, value{}, nil, err
		}
	}
	return num, gen, v, data, nil
}

// decode applies the stream's filters (none or FlateDecode).
func (d *pdf) decode(dict value, data []byte) ([]byte, error) {
	f, _ := dict.get("Filter")
	parms, _ := dict.get("DecodeParms")
	if f.k == kArray {
		if len(f.arr) == 0 {
			return data, nil
		}
		if len(f.arr) > 1 {
			return nil, errors.New("chained filters unsupported")
		}
		f = f.arr[0]
		if parms.k == kArray && len(parms.arr) > 0 {
			parms = parms.arr[0]
		}
	}
	switch {
	case f.k == kNull || f.raw == nil:
		return data, nil
	case f.k == kName && f.str == "FlateDecode":
		return inflate(data, parms, maxDecoded)
	}
	return nil, fmt.Errorf("filter %s unsupported", f.raw)
}

// resolve returns the value v refers to, or v itself if it is direct.
func (d *pdf) resolve(v value) (value, error) {
	for depth := 0; v.k == kRef; depth++ {
		if depth > 8 {
			return value{}, corruptf("reference chain too long")
		}
		x, err := d.object(v.num)
		if err != nil {
			return value{}, err
		}
		v = x
	}
	return v, nil
}

// object returns object num's value (a missing or free object is null).
func (d *pdf) object(num int64) (value, error) {
	e, ok, err := d.entry(num)
	if err != nil {
		return value{}, err
	}
	if !ok || e.typ == 0 {
		return value{k: kNull}, nil
	}
	if e.typ == 1 {
		n, _, v, _, err := d.readObjectAt(e.off)
		if err != nil {
			return value{}, err
		}
		if n != num {
			return value{}, corruptf("cross-reference entry of object %d points to object %d", num, n)
		}
		return v, nil
	}
	os, err := d.objStream(e.stm)
	if err != nil {
		return value{}, err
	}
	if e.idx >= len(os.offs) || os.nums[e.idx] != num {
		return value{}, corruptf("object %d not in object stream %d", num, e.stm)
	}
	start := os.first + os.offs[e.idx]
	if start < 0 || start >= int64(len(os.data)) {
		return value{}, corruptf("object %d outside object stream %d", num, e.stm)
	}
	l := &lexer{b: os.data, p: int(start)}
	v, err := l.value()
	if err != nil {
		return value{}, corruptf("object %d in object stream %d: %v", num, e.stm, err)
	}
	return v, nil
}

func (d *pdf) objStream(num int64) (*objStream, error) {
	if s, ok := d.objstms[num]; ok {
		return s, nil
	}
	e, ok, err := d.entry(num)
	if err != nil {
		return nil, err
	}
	if !ok || e.typ != 1 {
		return nil, corruptf("object stream %d missing", num)
	}
	_, _, dict, data, err := d.readObjectAt(e.off)
	if err != nil {
		return nil, err
	}
	raw, err := d.decode(dict, data)
	if err != nil {
		return nil, corruptf("object stream %d: %v", num, err)
	}
	nv, _ := dict.get("N")
	fv, _ := dict.get("First")
	if nv.k != kInt || fv.k != kInt || nv.num < 0 || nv.num > 1<<20 {
		return nil, corruptf("object stream %d header", num)
	}
	s := &objStream{data: raw, first: fv.num}
	l := &lexer{b: raw}
	for i := int64(0); i < nv.num; i++ {
		n, ok1 := l.uint()
		o, ok2 := l.uint()
		if !ok1 || !ok2 {
			return nil, corruptf("object stream %d header", num)
		}
		s.nums = append(s.nums, n)
		s.offs = append(s.offs, o)
	}
	if d.objstms == nil {
		d.objstms = map[int64]*objStream{}
	}
	d.objstms[num] = s
	return s, nil
}

// sizeValue is the trailer's /Size, at least one more than any object number.
func (d *pdf) sizeValue() int64 {
	sz := int64(0)
	if s, ok := d.trailer.get("Size"); ok && s.k == kInt {
		sz = s.num
	}
	for _, s := range d.secs {
		for _, x := range []*xsec{s, s.stm} {
			if x == nil {
				continue
			}
			for _, sub := range x.subs {
				if sub.count > 0 {
					sz = max(sz, sub.start+sub.count)
				}
			}
		}
	}
	return sz
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
