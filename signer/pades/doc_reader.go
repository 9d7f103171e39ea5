package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// xent is one cross-reference entry.
type xent struct {
	typ byte // 0 free, 1 at offset, 2 in object stream
	off int64
	gen int
	stm int64 // object stream number (typ 2)
	idx int   // index in the object stream (typ 2)
}

// pdf is a lazily read PDF: its cross-reference and latest trailer.
type pdf struct {
	r         io.ReaderAt
	size      int64
	startxref int64
	xref      map[int64]xent
	trailer   value // the latest trailer dictionary
	xrefIsStm bool  // the latest cross-reference section is a stream
	objstms   map[int64]*objStream

	// While reading a hybrid file's /XRefStm, override lets its entries
	// replace the free entries (sectionFree) of the same section's table.
	override    bool
	sectionFree map[int64]bool
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
)

var errCorrupt = errors.New("corrupt")

func corruptf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, a...)...)
}

// open reads the cross-reference chain of the PDF in r.
func open(r io.ReaderAt, size int64) (*pdf, error) {
	d := &pdf{r: r, size: size, xref: map[int64]xent{}, objstms: map[int64]*objStream{}, sectionFree: map[int64]bool{}}
	tail := int64(8192)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return nil, err
	}
	i := bytes.LastIndex(buf, []byte("startxref"))
	if i < 0 {
		return nil, corruptf("no startxref (the file is truncated)")
	}
	l := &lexer{b: buf, p: i + len("startxref")}
	off, ok := l.uint()
	if !ok || off <= 0 || off >= size {
		return nil, corruptf("bad startxref offset")
	}
	d.startxref = off
	seen := map[int64]bool{}
	first := true
	for off > 0 {
		if seen[off] || len(seen) > maxXrefChains {
			return nil, corruptf("cross-reference chain loops")
		}
		seen[off] = true
		trailer, isStm, err := d.readSection(off)
		if err != nil {
			return nil, err
		}
		if first {
			d.trailer, d.xrefIsStm, first = trailer, isStm, false
		}
		if xs, ok := trailer.get("XRefStm"); ok && xs.k == kInt && !seen[xs.num] {
			// A hybrid file: the stream completes this section's table, and
			// its entries win over the table's free ones.
			seen[xs.num] = true
			d.override = true
			_, _, err := d.readSection(xs.num)
			d.override = false
			if err != nil {
				return nil, err
			}
		}
		d.sectionFree = map[int64]bool{}
		off = 0
		if p, ok := trailer.get("Prev"); ok && p.k == kInt {
			off = p.num
			if off <= 0 || off >= size {
				return nil, corruptf("bad /Prev offset")
			}
		}
	}
	return d, nil
}

// add records an entry unless a newer section already did.
func (d *pdf) add(num int64, e xent) {
	if _, ok := d.xref[num]; !ok || (d.override && d.sectionFree[num]) {
		d.xref[num] = e
		if e.typ == 0 && !d.override {
			d.sectionFree[num] = true
		}
	}
}

// window reads object text at off, growing until parse succeeds.
func (d *pdf) window(off int64, parse func(b []byte) error) error {
	n := int64(4096)
	for {
		if n > d.size-off {
			n = d.size - off
		}
		buf := make([]byte, n)
		if _, err := d.r.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
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

// readSection reads the cross-reference section at off and returns its
// trailer (for a stream, the stream dictionary).
func (d *pdf) readSection(off int64) (value, bool, error) {
	var trailer value
	var isStm bool
	err := d.window(off, func(b []byte) error {
		l := &lexer{b: b}
		l.skipWS()
		if !bytes.HasPrefix(b[l.p:], []byte("xref")) {
			isStm = true
			return nil
		}
		l.p += 4
		var ents []struct {
			num int64
			e   xent
		}
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
				break
			}
			start, ok1 := l.uint()
			count, ok2 := l.uint()
			if !ok1 || !ok2 {
				if l.p >= len(b)-20 {
					return errEOF
				}
				return corruptf("bad cross-reference subsection at %d", off)
			}
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
				ents = append(ents, struct {
					num int64
					e   xent
				}{start + i, e})
			}
		}
		for _, x := range ents {
			d.add(x.num, x.e)
		}
		return nil
	})
	if err != nil || !isStm {
		return trailer, false, err
	}
	// A cross-reference stream.
	_, _, dict, data, err := d.readObjectAt(off)
	if err != nil {
		return value{}, false, err
	}
	if dict.name("Type") != "XRef" {
		return value{}, false, corruptf("startxref does not point to a cross-reference section")
	}
	raw, err := d.decode(dict, data)
	if err != nil {
		return value{}, false, corruptf("cross-reference stream: %v", err)
	}
	wv, _ := dict.get("W")
	if wv.k != kArray || len(wv.arr) != 3 {
		return value{}, false, corruptf("cross-reference stream without /W")
	}
	var w [3]int
	for i, x := range wv.arr {
		if x.k != kInt || x.num < 0 || x.num > 8 {
			return value{}, false, corruptf("bad /W")
		}
		w[i] = int(x.num)
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
	rowLen := w[0] + w[1] + w[2]
	if rowLen == 0 {
		return value{}, false, corruptf("bad /W")
	}
	pos := 0
	field := func(n int, def int64) int64 {
		if n == 0 {
			return def
		}
		var v int64
		for i := 0; i < n; i++ {
			v = v<<8 | int64(raw[pos+i])
		}
		pos += n
		return v
	}
	for i := 0; i+1 < len(index); i += 2 {
		for j := int64(0); j < index[i+1]; j++ {
			if pos+rowLen > len(raw) {
				return value{}, false, corruptf("cross-reference stream too short")
			}
			t := field(w[0], 1)
			a := field(w[1], 0)
			b := field(w[2], 0)
			num := index[i] + j
			switch t {
			case 0:
				d.add(num, xent{typ: 0})
			case 1:
				d.add(num, xent{typ: 1, off: a, gen: int(b)})
			case 2:
				d.add(num, xent{typ: 2, stm: a, idx: int(b)})
			}
		}
	}
	return dict, true, nil
}

// readObjectAt parses "N G obj value" at off. For a stream it also returns
// the raw (undecoded) stream data.
func (d *pdf) readObjectAt(off int64) (num int64, gen int, v value, data []byte, err error) {
	if off < 0 || off >= d.size {
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
			streamAt = off + int64(l.p)
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
	e, ok := d.xref[num]
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
	e, ok := d.xref[num]
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
	d.objstms[num] = s
	return s, nil
}

// genOf returns the generation number object num currently has.
func (d *pdf) genOf(num int64) int {
	if e, ok := d.xref[num]; ok && e.typ == 1 {
		return e.gen
	}
	return 0
}

// sizeValue is the trailer's /Size, at least one more than any object number.
func (d *pdf) sizeValue() int64 {
	sz := int64(0)
	if s, ok := d.trailer.get("Size"); ok && s.k == kInt {
		sz = s.num
	}
	for n := range d.xref {
		if n+1 > sz {
			sz = n + 1
		}
	}
	return sz
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
