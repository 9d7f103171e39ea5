package sim

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// This file reads just enough of a PDF to place a visible signature by
// SIGN_FIELD (the rectangle and page of an existing form field) or by
// PLACEHOLDER (the position of the first occurrence of a word in the pages'
// text). It is not a PDF parser: it finds objects by scanning for "N G obj",
// follows object streams and Flate streams, walks the page tree and the
// AcroForm field tree, and tracks the text and graphics matrices of content
// streams. Text is compared byte for byte (ASCII placeholders in simple
// fonts); a word split across show operators, or drawn with a font whose
// encoding is not ASCII-compatible, is not found.

// Limits keep a hostile document from costing more than a legitimate one.
const (
	pdfMaxInflate = 64 << 20 // decoded bytes per document
	pdfMaxDepth   = 64       // nesting of values, pages and fields
	pdfMaxObjects = 1 << 20
)

var errPDF = errors.New("not a readable PDF")

type pdfName string
type pdfRef int64

type pdfStream struct {
	dict map[string]any
	raw  []byte
}

type pdfDoc struct {
	objs  map[int64]any
	cat   map[string]any
	pages []map[string]any
	refs  []int64 // object number of each page (0 for an inline page)

	inflated int64 // decoded bytes so far, bounded by pdfMaxInflate
}

var objHead = regexp.MustCompile(`(\d+)[ \t\r\n\f\x00]+(\d+)[ \t\r\n\f\x00]+obj\b`)

// readPDF indexes the objects of b and its page tree.
func readPDF(b []byte) (*pdfDoc, error) {
	if !bytes.Contains(b[:min(len(b), 1024)], []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: no %%PDF- header", errPDF)
	}
	d := &pdfDoc{objs: map[int64]any{}}
	locs := objHead.FindAllSubmatchIndex(b, pdfMaxObjects)
	for i, m := range locs {
		num, err := strconv.ParseInt(string(b[m[2]:m[3]]), 10, 64)
		if err != nil {
			continue
		}
		end := len(b)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := b[m[1]:end]
		p := &pdfLexer{b: body}
		v, err := p.value(0)
		if err != nil {
			continue
		}
		if dict, ok := v.(map[string]any); ok {
			if k := p.keyword(); k == "stream" {
				d.objs[num] = &pdfStream{dict: dict, raw: streamData(body[p.i:], dict)}
				continue
			}
		}
		d.objs[num] = v // a later definition (incremental update) wins
	}
	// Objects inside object streams, unless defined directly.
	for _, v := range d.objs {
		s, ok := v.(*pdfStream)
		if !ok || s.dict["Type"] != pdfName("ObjStm") {
			continue
		}
		data, err := d.decode(s)
		if err != nil {
			continue
		}
		n, _ := d.num(s.dict["N"])
		first, _ := d.num(s.dict["First"])
		if n <= 0 || n > pdfMaxObjects || first < 0 || int(first) > len(data) {
			continue
		}
		hp := &pdfLexer{b: data[:int(first)]}
		type entry struct{ num, off int64 }
		var entries []entry
		for range int(n) {
			a, err1 := hp.value(0)
			o, err2 := hp.value(0)
			an, ok1 := a.(float64)
			on, ok2 := o.(float64)
			if err1 != nil || err2 != nil || !ok1 || !ok2 {
				break
			}
			entries = append(entries, entry{int64(an), int64(on)})
		}
		for i, e := range entries {
			start := int(first) + int(e.off)
			end := len(data)
			if i+1 < len(entries) {
				end = int(first) + int(entries[i+1].off)
			}
			if start < int(first) || start > end || end > len(data) {
				continue
			}
			if _, direct := d.objs[e.num]; direct {
				continue
			}
			if v, err := (&pdfLexer{b: data[start:end]}).value(0); err == nil {
				d.objs[e.num] = v
			}
		}
	}
	var catalog map[string]any
	for _, v := range d.objs {
		if m, ok := v.(map[string]any); ok && m["Type"] == pdfName("Catalog") {
			catalog = m
		}
	}
	// The trailer (or cross-reference stream) names the catalog when several
	// objects claim to be one.
	if i := bytes.LastIndex(b, []byte("/Root")); i >= 0 {
		p := &pdfLexer{b: b[i+5:]}
		if v, err := p.value(0); err == nil {
			if m, ok := d.resolve(v).(map[string]any); ok {
				catalog = m
			}
		}
	}
	if catalog == nil {
		return nil, fmt.Errorf("%w: no document catalog", errPDF)
	}
	d.cat = catalog
	visited := map[int64]bool{}
	d.walkPages(catalog["Pages"], 0, visited)
	if len(d.pages) == 0 {
		return nil, fmt.Errorf("%w: no pages", errPDF)
	}
	return d, nil
}

// streamData returns the bytes between "stream" and "endstream", by /Length
// when it is a direct, plausible number.
func streamData(rest []byte, dict map[string]any) []byte {
	// The keyword is followed by CRLF or LF.
	if bytes.HasPrefix(rest, []byte("\r\n")) {
		rest = rest[2:]
	} else if bytes.HasPrefix(rest, []byte("\n")) || bytes.HasPrefix(rest, []byte("\r")) {
		rest = rest[1:]
	}
	if n, ok := dict["Length"].(float64); ok && n >= 0 && int(n) <= len(rest) {
		after := bytes.TrimLeft(rest[int(n):], " \t\r\n")
		if bytes.HasPrefix(after, []byte("endstream")) {
			return rest[:int(n)]
		}
	}
	if i := bytes.Index(rest, []byte("endstream")); i >= 0 {
		return bytes.TrimRight(rest[:i], "\r\n")
	}
	return rest
}

func (d *pdfDoc) resolve(v any) any {
	for range 8 {
		r, ok := v.(pdfRef)
		if !ok {
			return v
		}
		v = d.objs[int64(r)]
	}
	return nil
}

func (d *pdfDoc) dict(v any) map[string]any {
	switch x := d.resolve(v).(type) {
	case map[string]any:
		return x
	case *pdfStream:
		return x.dict
	}
	return nil
}

func (d *pdfDoc) num(v any) (float64, bool) {
	f, ok := d.resolve(v).(float64)
	return f, ok
}

func (d *pdfDoc) array(v any) []any {
	a, _ := d.resolve(v).([]any)
	return a
}

// decode returns a stream's data, inflated when its filter is FlateDecode.
func (d *pdfDoc) decode(s *pdfStream) ([]byte, error) {
	var filters []any
	switch f := d.resolve(s.dict["Filter"]).(type) {
	case nil:
	case pdfName:
		filters = []any{f}
	case []any:
		filters = f
	default:
		return nil, errPDF
	}
	data := s.raw
	for _, f := range filters {
		if d.resolve(f) != pdfName("FlateDecode") {
			return nil, fmt.Errorf("%w: filter %v", errPDF, f)
		}
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		left := pdfMaxInflate - d.inflated
		out, err := io.ReadAll(io.LimitReader(zr, left+1))
		d.inflated += int64(len(out))
		if int64(len(out)) > left {
			return nil, fmt.Errorf("%w: streams too large", errPDF)
		}
		if err != nil && len(out) == 0 {
			return nil, err
		}
		data = out // a truncated stream keeps what inflated
	}
	return data, nil
}

func (d *pdfDoc) walkPages(node any, depth int, visited map[int64]bool) {
	if depth > pdfMaxDepth || len(d.pages) > pdfMaxObjects {
		return
	}
	ref, isRef := node.(pdfRef)
	if isRef {
		if visited[int64(ref)] {
			return
		}
		visited[int64(ref)] = true
	}
	n := d.dict(node)
	if n == nil {
		return
	}
	if kids, ok := d.resolve(n["Kids"]).([]any); ok && n["Type"] != pdfName("Page") {
		for _, k := range kids {
			d.walkPages(k, depth+1, visited)
		}
		return
	}
	d.pages = append(d.pages, n)
	d.refs = append(d.refs, int64(ref))
}

// location is where a visible signature goes: a 1-based page and a
// rectangle in user space.
type location struct {
	page       int
	x, y, w, h float64
}

// findField returns the widget rectangle and page of the form field whose
// full name (parent names joined by '.') or own name is name.
func (d *pdfDoc) findField(name string) (location, error) {
	form := d.dict(d.cat["AcroForm"])
	if form == nil {
		return location{}, errors.New("the document has no form fields")
	}
	var found map[string]any
	var foundRef int64
	visited := map[int64]bool{}
	var walk func(v any, parent string, depth int)
	walk = func(v any, parent string, depth int) {
		if found != nil || depth > pdfMaxDepth {
			return
		}
		if r, ok := v.(pdfRef); ok {
			if visited[int64(r)] {
				return
			}
			visited[int64(r)] = true
		}
		f := d.dict(v)
		if f == nil {
			return
		}
		full := parent
		if t, ok := d.resolve(f["T"]).(string); ok {
			if full != "" {
				full += "."
			}
			full += t
			if full == name || t == name {
				found = f
				if r, ok := v.(pdfRef); ok {
					foundRef = int64(r)
				}
				return
			}
		}
		for _, k := range d.array(f["Kids"]) {
			walk(k, full, depth+1)
		}
	}
	for _, f := range d.array(form["Fields"]) {
		walk(f, "", 0)
	}
	if found == nil {
		return location{}, fmt.Errorf("the document has no field named %q", name)
	}
	widget, wref := found, foundRef
	if _, ok := found["Rect"]; !ok {
		for _, k := range d.array(found["Kids"]) {
			if kd := d.dict(k); kd != nil && kd["Rect"] != nil {
				widget = kd
				r, _ := k.(pdfRef)
				wref = int64(r)
				break
			}
		}
	}
	rect := d.array(widget["Rect"])
	if len(rect) != 4 {
		return location{}, fmt.Errorf("field %q has no widget rectangle", name)
	}
	var c [4]float64
	for i, v := range rect {
		f, ok := d.num(v)
		if !ok {
			return location{}, fmt.Errorf("field %q has a malformed rectangle", name)
		}
		c[i] = f
	}
	loc := location{x: min(c[0], c[2]), y: min(c[1], c[3]), w: abs(c[2] - c[0]), h: abs(c[3] - c[1])}
	if p, ok := widget["P"].(pdfRef); ok {
		for i, r := range d.refs {
			if r == int64(p) {
				loc.page = i + 1
			}
		}
	}
	if loc.page == 0 && wref != 0 {
		for i, pg := range d.pages {
			for _, a := range d.array(pg["Annots"]) {
				if r, ok := a.(pdfRef); ok && int64(r) == wref {
					loc.page = i + 1
				}
			}
		}
	}
	if loc.page == 0 {
		return location{}, fmt.Errorf("field %q is on no page", name)
	}
	return loc, nil
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// findWord returns the text-space origin, in user space, of the first show
// operator whose text holds word as a whole word, scanning pages in order.
func (d *pdfDoc) findWord(word string) (location, error) {
	if word == "" || strings.ContainsAny(word, " \t\r\n") {
		return location{}, fmt.Errorf("placeholder %q is not one word", word)
	}
	for i, pg := range d.pages {
		var content []byte
		switch c := d.resolve(pg["Contents"]).(type) {
		case *pdfStream:
			content, _ = d.decode(c)
		case []any:
			for _, e := range c {
				if s, ok := d.resolve(e).(*pdfStream); ok {
					b, _ := d.decode(s)
					content = append(append(content, b...), '\n')
				}
			}
		}
		if x, y, ok := scanText(content, []byte(word)); ok {
			return location{page: i + 1, x: x, y: y}, nil
		}
	}
	return location{}, fmt.Errorf("placeholder %q is not in the document's text", word)
}

type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (m applied first).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// scanText runs a content stream's text operators and reports the user-space
// position of the text line showing word.
func scanText(content, word []byte) (float64, float64, bool) {
	p := &pdfLexer{b: content}
	var ops []any
	ctm, tm, tlm := identity, identity, identity
	var stack []matrix
	leading := 0.0
	nums := func(n int) ([]float64, bool) {
		if len(ops) < n {
			return nil, false
		}
		out := make([]float64, n)
		for i, v := range ops[len(ops)-n:] {
			f, ok := v.(float64)
			if !ok {
				return nil, false
			}
			out[i] = f
		}
		return out, true
	}
	td := func(tx, ty float64) {
		tlm = matrix{1, 0, 0, 1, tx, ty}.mul(tlm)
		tm = tlm
	}
	shows := func(s []byte) bool {
		for from := 0; ; {
			j := bytes.Index(s[from:], word)
			if j < 0 {
				return false
			}
			j += from
			before := j == 0 || !wordByte(s[j-1])
			after := j+len(word) == len(s) || !wordByte(s[j+len(word)])
			if before && after {
				return true
			}
			from = j + 1
		}
	}
	for steps := 0; steps < 1<<24; steps++ {
		v, err := p.value(0)
		if err != nil {
			return 0, 0, false
		}
		op, isOp := v.(pdfOp)
		if !isOp {
			if len(ops) < 64 {
				ops = append(ops, v)
			}
			continue
		}
		switch op {
		case "q":
			if len(stack) < 64 {
				stack = append(stack, ctm)
			}
		case "Q":
			if len(stack) > 0 {
				ctm, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if n, ok := nums(6); ok {
				ctm = matrix(n).mul(ctm)
			}
		case "BT":
			tm, tlm = identity, identity
		case "Tm":
			if n, ok := nums(6); ok {
				tm, tlm = matrix(n), matrix(n)
			}
		case "Td":
			if n, ok := nums(2); ok {
				td(n[0], n[1])
			}
		case "TD":
			if n, ok := nums(2); ok {
				leading = -n[1]
				td(n[0], n[1])
			}
		case "TL":
			if n, ok := nums(1); ok {
				leading = n[0]
			}
		case "T*":
			td(0, -leading)
		case "Tj", "'", "\"":
			if op != "Tj" {
				td(0, -leading)
			}
			if len(ops) > 0 {
				if s, ok := ops[len(ops)-1].(string); ok && shows([]byte(s)) {
					o := tm.mul(ctm)
					return o[4], o[5], true
				}
			}
		case "TJ":
			if len(ops) > 0 {
				if a, ok := ops[len(ops)-1].([]any); ok {
					var sb []byte
					for _, e := range a {
						if s, ok := e.(string); ok {
							sb = append(sb, s...)
						}
					}
					if shows(sb) {
						o := tm.mul(ctm)
						return o[4], o[5], true
					}
				}
			}
		}
		ops = ops[:0]
	}
	return 0, 0, false
}

func wordByte(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// pdfOp is a content-stream operator or a bare keyword.
type pdfOp string

// pdfLexer reads PDF values: numbers (float64), names (pdfName), strings
// (string, unescaped), arrays, dictionaries (map[string]any), references
// (pdfRef), booleans, null (nil) and keywords (pdfOp).
type pdfLexer struct {
	b []byte
	i int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

func isDelim(c byte) bool { return strings.IndexByte("()<>[]{}/%", c) >= 0 }

func (p *pdfLexer) skipSpace() {
	for p.i < len(p.b) {
		c := p.b[p.i]
		if isSpace(c) {
			p.i++
			continue
		}
		if c == '%' {
			for p.i < len(p.b) && p.b[p.i] != '\n' && p.b[p.i] != '\r' {
				p.i++
			}
			continue
		}
		return
	}
}

// keyword returns the next bare keyword without consuming anything else.
func (p *pdfLexer) keyword() string {
	p.skipSpace()
	j := p.i
	for j < len(p.b) && !isSpace(p.b[j]) && !isDelim(p.b[j]) {
		j++
	}
	k := string(p.b[p.i:j])
	if k == "stream" {
		p.i = j
	}
	return k
}

func (p *pdfLexer) value(depth int) (any, error) {
	if depth > pdfMaxDepth {
		return nil, errPDF
	}
	p.skipSpace()
	if p.i >= len(p.b) {
		return nil, io.EOF
	}
	c := p.b[p.i]
	switch {
	case c == '/':
		p.i++
		j := p.i
		for j < len(p.b) && !isSpace(p.b[j]) && !isDelim(p.b[j]) {
			j++
		}
		n := unhexName(p.b[p.i:j])
		p.i = j
		return pdfName(n), nil
	case c == '(':
		return p.literal()
	case c == '<' && p.i+1 < len(p.b) && p.b[p.i+1] == '<':
		p.i += 2
		m := map[string]any{}
		for {
			p.skipSpace()
			if p.i+1 < len(p.b) && p.b[p.i] == '>' && p.b[p.i+1] == '>' {
				p.i += 2
				return m, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, errPDF
			}
			name, ok := k.(pdfName)
			if !ok {
				return nil, errPDF
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, errPDF
			}
			m[string(name)] = v
		}
	case c == '<':
		p.i++
		j := bytes.IndexByte(p.b[p.i:], '>')
		if j < 0 {
			return nil, errPDF
		}
		h := p.b[p.i : p.i+j]
		p.i += j + 1
		var digits []byte
		for _, x := range h {
			if !isSpace(x) {
				digits = append(digits, x)
			}
		}
		if len(digits)%2 == 1 {
			digits = append(digits, '0')
		}
		out := make([]byte, len(digits)/2)
		for k := range out {
			v, err := strconv.ParseUint(string(digits[2*k:2*k+2]), 16, 8)
			if err != nil {
				return nil, errPDF
			}
			out[k] = byte(v)
		}
		return string(out), nil
	case c == '[':
		p.i++
		var a []any
		for {
			p.skipSpace()
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				if a == nil {
					a = []any{}
				}
				return a, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, errPDF
			}
			a = append(a, v)
		}
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		j := p.i + 1
		for j < len(p.b) && (p.b[j] == '.' || (p.b[j] >= '0' && p.b[j] <= '9')) {
			j++
		}
		f, err := strconv.ParseFloat(string(p.b[p.i:j]), 64)
		if err != nil {
			f = 0 // PDF readers take malformed numbers as 0
		}
		p.i = j
		// "N G R" is a reference.
		save := p.i
		if f >= 0 && f == float64(int64(f)) {
			p.skipSpace()
			k := p.i
			for k < len(p.b) && p.b[k] >= '0' && p.b[k] <= '9' {
				k++
			}
			if k > p.i {
				p2 := k
				for p2 < len(p.b) && isSpace(p.b[p2]) {
					p2++
				}
				if p2 < len(p.b) && p.b[p2] == 'R' && (p2+1 == len(p.b) || isSpace(p.b[p2+1]) || isDelim(p.b[p2+1])) {
					p.i = p2 + 1
					return pdfRef(int64(f)), nil
				}
			}
		}
		p.i = save
		return f, nil
	case isDelim(c):
		p.i++
		return nil, errPDF
	}
	j := p.i
	for j < len(p.b) && !isSpace(p.b[j]) && !isDelim(p.b[j]) {
		j++
	}
	k := string(p.b[p.i:j])
	p.i = j
	switch k {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	return pdfOp(k), nil
}

func unhexName(b []byte) string {
	if bytes.IndexByte(b, '#') < 0 {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

// literal reads a (string) with nested parentheses and escapes.
func (p *pdfLexer) literal() (any, error) {
	p.i++ // (
	var out []byte
	depth := 1
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return string(out), nil
			}
		case '\\':
			if p.i >= len(p.b) {
				return nil, errPDF
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if p.i < len(p.b) && p.b[p.i] == '\n' {
					p.i++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '7'; k++ {
						v = v*8 + int(p.b[p.i]-'0')
						p.i++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return nil, errPDF
}
