package pades

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// kind is the type of a PDF value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt
	kReal
	kName
	kString
	kArray
	kDict
	kRef
	kKeyword
)

// value is a parsed PDF value that keeps its source bytes.
type value struct {
	k    kind
	raw  []byte // the exact source bytes of the value
	num  int64  // integer value, or object number of a reference
	gen  int    // generation of a reference
	str  string // decoded name (without '/'), string bytes or keyword
	arr  []value
	dict []entry
}

type entry struct {
	key    string // decoded name without '/'
	rawKey []byte // source bytes of the key, with '/'
	val    value
}

func (v value) get(key string) (value, bool) {
	for _, e := range v.dict {
		if e.key == key {
			return e.val, true
		}
	}
	return value{}, false
}

func (v value) name(key string) string {
	if x, ok := v.get(key); ok && x.k == kName {
		return x.str
	}
	return ""
}

var errEOF = errors.New("unexpected end of data")

type lexer struct {
	b []byte
	p int
}

func isWS(c byte) bool { return c == 0 || c == 9 || c == 10 || c == 12 || c == 13 || c == 32 }

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWS(c) && !isDelim(c) }

func (l *lexer) skipWS() {
	for l.p < len(l.b) {
		c := l.b[l.p]
		if isWS(c) {
			l.p++
		} else if c == '%' {
			for l.p < len(l.b) && l.b[l.p] != '\n' && l.b[l.p] != '\r' {
				l.p++
			}
		} else {
			return
		}
	}
}

// keyword reads a run of regular characters.
func (l *lexer) keyword() string {
	l.skipWS()
	s := l.p
	for l.p < len(l.b) && isRegular(l.b[l.p]) {
		l.p++
	}
	return string(l.b[s:l.p])
}

const maxDepth = 64

func (l *lexer) value() (value, error) { return l.valueDepth(0) }

func (l *lexer) valueDepth(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, corruptf("objects nested too deeply")
	}
	l.skipWS()
	if l.p >= len(l.b) {
		return value{}, errEOF
	}
	start := l.p
	var v value
	c := l.b[l.p]
	switch {
	case c == '/':
		l.p++
		for l.p < len(l.b) && isRegular(l.b[l.p]) {
			l.p++
		}
		v = value{k: kName, str: decodeName(l.b[start+1 : l.p])}
	case c == '<' && l.p+1 < len(l.b) && l.b[l.p+1] == '<':
		l.p += 2
		v.k = kDict
		for {
			l.skipWS()
			if l.p+1 >= len(l.b) {
				return value{}, errEOF
			}
			if l.b[l.p] == '>' && l.b[l.p+1] == '>' {
				l.p += 2
				break
			}
			ks := l.p
			key, err := l.valueDepth(depth + 1)
			if err != nil {
				return value{}, err
			}
			if key.k != kName {
				return value{}, corruptf("dictionary key is not a name at %d", ks)
			}
			val, err := l.valueDepth(depth + 1)
			if err != nil {
				return value{}, err
			}
			if val.k == kKeyword {
				return value{}, corruptf("unexpected %q in dictionary", val.str)
			}
			v.dict = append(v.dict, entry{key: key.str, rawKey: key.raw, val: val})
		}
	case c == '<':
		e := bytes.IndexByte(l.b[l.p:], '>')
		if e < 0 {
			return value{}, errEOF
		}
		l.p += e + 1
		v = value{k: kString, str: decodeHex(l.b[start+1 : l.p-1])}
	case c == '[':
		l.p++
		v.k = kArray
		for {
			l.skipWS()
			if l.p >= len(l.b) {
				return value{}, errEOF
			}
			if l.b[l.p] == ']' {
				l.p++
				break
			}
			x, err := l.valueDepth(depth + 1)
			if err != nil {
				return value{}, err
			}
			if x.k == kKeyword {
				return value{}, corruptf("unexpected %q in array", x.str)
			}
			v.arr = append(v.arr, x)
		}
	case c == '(':
		s, err := l.literal()
		if err != nil {
			return value{}, err
		}
		v = value{k: kString, str: s}
	case c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.':
		l.p++
		for l.p < len(l.b) && isRegular(l.b[l.p]) {
			l.p++
		}
		tok := string(l.b[start:l.p])
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			if _, ferr := strconv.ParseFloat(tok, 64); ferr != nil && l.p < len(l.b) {
				return value{}, corruptf("bad number %q", tok)
			}
			v = value{k: kReal}
			break
		}
		v = value{k: kInt, num: n}
		// "N G R" is a reference.
		save := l.p
		if gen, ok := l.uint(); ok {
			l.skipWS()
			if l.p < len(l.b) && l.b[l.p] == 'R' && (l.p+1 == len(l.b) || !isRegular(l.b[l.p+1])) {
				l.p++
				v = value{k: kRef, num: n, gen: int(gen)}
				break
			}
		}
		l.p = save
	case c == ')' || c == '>' || c == ']' || c == '{' || c == '}':
		return value{}, corruptf("unexpected %q at %d", c, l.p)
	default:
		w := l.keyword()
		switch w {
		case "true", "false":
			v = value{k: kBool, str: w}
		case "null":
			v = value{k: kNull}
		default:
			v = value{k: kKeyword, str: w}
		}
	}
	v.raw = l.b[start:l.p]
	return v, nil
}

// uint reads an unsigned integer token, if the next token is one.
func (l *lexer) uint() (int64, bool) {
	l.skipWS()
	s := l.p
	for l.p < len(l.b) && l.b[l.p] >= '0' && l.b[l.p] <= '9' {
		l.p++
	}
	if s == l.p || (l.p < len(l.b) && isRegular(l.b[l.p])) {
		l.p = s
		return 0, false
	}
	n, err := strconv.ParseInt(string(l.b[s:l.p]), 10, 64)
	if err != nil {
		l.p = s
		return 0, false
	}
	return n, true
}

func (l *lexer) literal() (string, error) {
	l.p++ // (
	var out []byte
	depth := 1
	for l.p < len(l.b) {
		c := l.b[l.p]
		l.p++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return string(out), nil
			}
		case '\\':
			if l.p >= len(l.b) {
				return "", errEOF
			}
			e := l.b[l.p]
			l.p++
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
				if l.p < len(l.b) && l.b[l.p] == '\n' {
					l.p++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					n := int(e - '0')
					for i := 0; i < 2 && l.p < len(l.b) && l.b[l.p] >= '0' && l.b[l.p] <= '7'; i++ {
						n = n*8 + int(l.b[l.p]-'0')
						l.p++
					}
					c = byte(n)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return "", errEOF
}

func decodeName(b []byte) string {
	if bytes.IndexByte(b, '#') < 0 {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if n, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(n))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func decodeHex(b []byte) string {
	if len(b)%2 == 0 {
		// Most hex strings (a signature's /Contents above all) are digits
		// only: decoded at once.
		out := make([]byte, len(b)/2)
		if _, err := hex.Decode(out, b); err == nil {
			return string(out)
		}
	}
	out := make([]byte, 0, len(b)/2+1)
	var hi int = -1
	for _, c := range b {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			continue
		}
		if hi < 0 {
			hi = d
		} else {
			out = append(out, byte(hi<<4|d))
			hi = -1
		}
	}
	if hi >= 0 {
		out = append(out, byte(hi<<4))
	}
	return string(out)
}

// inflate decodes a FlateDecode stream with optional PNG/TIFF predictor,
// refusing output larger than limit.
func inflate(data []byte, parms value, limit int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && len(out) > 0) {
		return nil, err
	}
	if int64(len(out)) > limit {
		return nil, errors.New("decoded stream too large")
	}
	pred := int64(1)
	if p, ok := parms.get("Predictor"); ok && p.k == kInt {
		pred = p.num
	}
	if pred < 10 {
		if pred != 1 {
			return nil, fmt.Errorf("predictor %d unsupported", pred)
		}
		return out, nil
	}
	cols := int64(1)
	if c, ok := parms.get("Columns"); ok && c.k == kInt && c.num > 0 {
		cols = c.num
	}
	colors, bpc := int64(1), int64(8)
	if c, ok := parms.get("Colors"); ok && c.k == kInt && c.num > 0 {
		colors = c.num
	}
	if c, ok := parms.get("BitsPerComponent"); ok && c.k == kInt && c.num > 0 {
		bpc = c.num
	}
	bpp := int((colors*bpc + 7) / 8)
	row := int((cols*colors*bpc + 7) / 8)
	if row <= 0 || row > 1<<20 {
		return nil, errors.New("bad predictor columns")
	}
	prev := make([]byte, row)
	res := make([]byte, 0, len(out))
	for i := 0; i+1 <= len(out); i += row + 1 {
		if i+1+row > len(out) {
			break
		}
		ft, cur := out[i], out[i+1:i+1+row]
		for j := range cur {
			var left, upleft byte
			if j >= bpp {
				left, upleft = cur[j-bpp], prev[j-bpp]
			}
			up := prev[j]
			switch ft {
			case 0:
			case 1:
				cur[j] += left
			case 2:
				cur[j] += up
			case 3:
				cur[j] += byte((int(left) + int(up)) / 2)
			case 4:
				cur[j] += paeth(left, up, upleft)
			default:
				return nil, fmt.Errorf("bad PNG filter %d", ft)
			}
		}
		res = append(res, cur...)
		copy(prev, cur)
	}
	return res, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
