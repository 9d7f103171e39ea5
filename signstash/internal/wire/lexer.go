package wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxString bounds a string read whole by Lexer.Next. Larger strings must be
// read with Lexer.StringReader; Next fails on them instead of growing without
// bound.
const MaxString = 1 << 20

// Delim is one of the four JSON delimiters { } [ ].
type Delim byte

// A Lexer reads JSON values token by token. It is lenient about separators
// (',' and ':' are skipped wherever they appear): callers know the shape of
// what they read and follow objects as alternating keys and values.
// A Lexer is not safe for concurrent use.
type Lexer struct {
	r    *bufio.Reader
	peek any // a token put back by Peek, or nil
	has  bool
	buf  []byte // copies strings for Next; io.Copy would allocate 32 KiB each time
}

// NewLexer returns a lexer reading from r.
func NewLexer(r io.Reader) *Lexer { return &Lexer{r: bufio.NewReaderSize(r, 64<<10)} }

// ErrSyntax reports malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

func syntaxErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...))
}

// skip consumes whitespace and separators and returns the next significant byte
// without consuming it.
func (l *Lexer) skip() (byte, error) {
	for {
		b, err := l.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n', ',', ':':
			continue
		}
		return b, l.r.UnreadByte()
	}
}

// Next returns the next token: a Delim, a string, a json.Number, a bool or
// nil (for null). It returns io.EOF at the end of input.
func (l *Lexer) Next() (any, error) {
	if l.has {
		l.has = false
		t := l.peek
		l.peek = nil
		return t, nil
	}
	b, err := l.skip()
	if err != nil {
		return nil, err
	}
	switch {
	case b == '{' || b == '}' || b == '[' || b == ']':
		l.r.ReadByte()
		return Delim(b), nil
	case b == '"':
		var sb strings.Builder
		sr, _ := l.StringReader()
		if l.buf == nil {
			l.buf = make([]byte, 4<<10)
		}
		if _, err := io.CopyBuffer(&limitedBuilder{&sb}, sr, l.buf); err != nil {
			return nil, err
		}
		return sb.String(), nil
	case b == '-' || (b >= '0' && b <= '9'):
		var sb strings.Builder
		for {
			c, err := l.r.ReadByte()
			if err != nil {
				if err == io.EOF {
					break
				}
				return nil, err
			}
			if !(c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')) {
				l.r.UnreadByte()
				break
			}
			sb.WriteByte(c)
			if sb.Len() > 64 {
				return nil, syntaxErr("number too long")
			}
		}
		// Out of float64's range is still a number (json.Number keeps it).
		if _, err := strconv.ParseFloat(sb.String(), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, syntaxErr("bad number %q", sb.String())
		}
		return json.Number(sb.String()), nil
	case b == 't' || b == 'f' || b == 'n':
		var word [5]byte
		n := 4
		if b == 'f' {
			n = 5
		}
		if _, err := io.ReadFull(l.r, word[:n]); err != nil {
			return nil, syntaxErr("truncated literal")
		}
		switch string(word[:n]) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return nil, syntaxErr("bad literal %q", word[:n])
	}
	return nil, syntaxErr("unexpected character %q", b)
}

// Peek returns the next token without consuming it. Peek must not be
// followed by StringReader.
func (l *Lexer) Peek() (any, error) {
	if l.has {
		return l.peek, nil
	}
	t, err := l.Next()
	if err != nil {
		return nil, err
	}
	l.peek, l.has = t, true
	return t, nil
}

// Expect consumes the next token and checks it is the delimiter d.
func (l *Lexer) Expect(d Delim) error {
	t, err := l.Next()
	if err != nil {
		return noEOF(err)
	}
	if t != d {
		return syntaxErr("expected %q, got %v", byte(d), t)
	}
	return nil
}

// Key returns the next object key, or ok false at the object's closing brace.
func (l *Lexer) Key() (key string, ok bool, err error) {
	t, err := l.Next()
	if err != nil {
		return "", false, noEOF(err)
	}
	switch t := t.(type) {
	case string:
		return t, true, nil
	case Delim:
		if t == '}' {
			return "", false, nil
		}
	}
	return "", false, syntaxErr("expected an object key, got %v", t)
}

// More reports whether the array being read has another element (consuming
// the closing bracket when it has not).
func (l *Lexer) More() (bool, error) {
	t, err := l.Peek()
	if err != nil {
		return false, noEOF(err)
	}
	if t == Delim(']') {
		l.Next()
		return false, nil
	}
	return true, nil
}

// Skip consumes the next value, whatever it is, without keeping it: large
// strings inside are streamed to nowhere.
func (l *Lexer) Skip() error {
	depth := 0
	for {
		if !l.has {
			b, err := l.skip()
			if err != nil {
				return noEOF(err)
			}
			if b == '"' {
				sr, _ := l.StringReader()
				if _, err := io.Copy(io.Discard, sr); err != nil {
					return err
				}
				if depth == 0 {
					return nil
				}
				continue
			}
		}
		t, err := l.Next()
		if err != nil {
			return noEOF(err)
		}
		if d, ok := t.(Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth <= 0 {
			if depth < 0 {
				return syntaxErr("unbalanced %q", byte(t.(Delim)))
			}
			return nil
		}
	}
}

// String reads the next value as a string (null reads as "").
func (l *Lexer) String() (string, error) {
	t, err := l.Next()
	if err != nil {
		return "", noEOF(err)
	}
	switch t := t.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	}
	return "", syntaxErr("expected a string, got %v", t)
}

// Int reads the next value as an integer (a number or a numeric string).
func (l *Lexer) Int() (int64, error) {
	t, err := l.Next()
	if err != nil {
		return 0, noEOF(err)
	}
	var s string
	switch t := t.(type) {
	case json.Number:
		s = string(t)
	case string:
		s = t
	case nil:
		return 0, nil
	default:
		return 0, syntaxErr("expected a number, got %v", t)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, syntaxErr("bad integer %q", s)
	}
	return n, nil
}

// Bool reads the next value as a boolean (null reads as false).
func (l *Lexer) Bool() (bool, error) {
	t, err := l.Next()
	if err != nil {
		return false, noEOF(err)
	}
	switch t := t.(type) {
	case bool:
		return t, nil
	case nil:
		return false, nil
	}
	return false, syntaxErr("expected a boolean, got %v", t)
}

// StringReader returns a reader of the next value, which must be a string,
// unescaped, streamed from the input: the string is never held whole. The
// reader must be read to io.EOF before the lexer is used again. A null value
// reads as an empty string.
func (l *Lexer) StringReader() (io.Reader, error) {
	if l.has {
		return nil, errors.New("wire: StringReader after Peek")
	}
	b, err := l.skip()
	if err != nil {
		return nil, noEOF(err)
	}
	if b == 'n' {
		if _, err := l.Next(); err != nil {
			return nil, err
		}
		return strings.NewReader(""), nil
	}
	if b != '"' {
		return nil, syntaxErr("expected a string, got %q", b)
	}
	l.r.ReadByte()
	return &stringReader{r: l.r}, nil
}

// stringReader yields the unescaped bytes of a JSON string up to its closing
// quote, which it consumes.
type stringReader struct {
	r    *bufio.Reader
	done bool
	rest []byte // unescaped bytes not yet returned (from a \u escape)
}

func (s *stringReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.rest) > 0 {
			c := copy(p[n:], s.rest)
			s.rest = s.rest[c:]
			n += c
			continue
		}
		if s.done {
			break
		}
		// Fast path: copy a run of plain bytes straight from the buffer.
		buf, _ := s.r.Peek(min(s.r.Buffered(), len(p)-n))
		i := plainRun(buf)
		if i > 0 {
			copy(p[n:], buf[:i])
			s.r.Discard(i)
			n += i
			continue
		}
		c, err := s.r.ReadByte()
		if err != nil {
			return n, syntaxErr("unterminated string")
		}
		switch {
		case c == '"':
			s.done = true
		case c == '\\':
			if err := s.escape(); err != nil {
				return n, err
			}
		case c < 0x20:
			return n, syntaxErr("control character in string")
		default:
			p[n] = c
			n++
		}
	}
	if n == 0 && s.done {
		return 0, io.EOF
	}
	return n, nil
}

// plainRun returns the length of the run of bytes at the start of buf
// that a JSON string holds as they are: up to a quote, a backslash or a
// control character. It tests eight bytes at a time: (v - 0x01…) &^ v &
// 0x80… is non-zero exactly when a byte of v is zero, and with 0x20… in
// place of 0x01… when a byte is below 0x20.
func plainRun(buf []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(buf); i += 8 {
		v := binary.LittleEndian.Uint64(buf[i:])
		q, b := v^(ones*'"'), v^(ones*'\\')
		if ((v-ones*0x20)&^v|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for ; i < len(buf); i++ {
		if c := buf[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

func (s *stringReader) escape() error {
	c, err := s.r.ReadByte()
	if err != nil {
		return syntaxErr("unterminated escape")
	}
	switch c {
	case '"', '\\', '/':
		s.rest = []byte{c}
	case 'b':
		s.rest = []byte{'\b'}
	case 'f':
		s.rest = []byte{'\f'}
	case 'n':
		s.rest = []byte{'\n'}
	case 'r':
		s.rest = []byte{'\r'}
	case 't':
		s.rest = []byte{'\t'}
	case 'u':
		r, err := s.hex4()
		if err != nil {
			return err
		}
		if utf16.IsSurrogate(r) {
			// A surrogate pair is two escapes: \uD83D\uDE00. A lone
			// surrogate reads as U+FFFD, and an escape after it that does
			// not complete a pair is read on its own, as encoding/json does.
			r2 := rune(-1)
			if b, _ := s.r.Peek(6); len(b) == 6 && b[0] == '\\' && b[1] == 'u' {
				if v, err := strconv.ParseUint(string(b[2:]), 16, 16); err == nil {
					r2 = rune(v)
				}
			}
			if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
				s.r.Discard(6)
			}
		}
		s.rest = utf8.AppendRune(nil, r)
	default:
		return syntaxErr("bad escape \\%c", c)
	}
	return nil
}

func (s *stringReader) hex4() (rune, error) {
	var h [4]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return 0, syntaxErr("truncated \\u escape")
	}
	v, err := strconv.ParseUint(string(h[:]), 16, 16)
	if err != nil {
		return 0, syntaxErr("bad \\u escape")
	}
	return rune(v), nil
}

type limitedBuilder struct{ b *strings.Builder }

func (w *limitedBuilder) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxString {
		return 0, syntaxErr("string longer than %d bytes", MaxString)
	}
	return w.b.Write(p)
}

func noEOF(err error) error {
	if err == io.EOF {
		return syntaxErr("unexpected end of input")
	}
	return err
}

// Decode reads the next value into v with encoding/json semantics. It is for
// small values (a signatureInfo object): the value may not exceed budget
// bytes of strings and numbers.
func (l *Lexer) Decode(v any, budget int) error {
	val, err := l.value(&budget, 0)
	if err != nil {
		return err
	}
	b, err := json.Marshal(val)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (l *Lexer) value(budget *int, depth int) (any, error) {
	if depth > 32 {
		return nil, syntaxErr("nesting too deep")
	}
	t, err := l.Next()
	if err != nil {
		return nil, noEOF(err)
	}
	switch t := t.(type) {
	case Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for {
				k, ok, err := l.Key()
				if err != nil {
					return nil, err
				}
				if !ok {
					return m, nil
				}
				// Invalid UTF-8 becomes U+FFFD byte by byte, as encoding/json
				// does, so keys that collide there collide here, in order.
				k = string([]rune(k))
				if *budget -= len(k); *budget < 0 {
					return nil, syntaxErr("value too large")
				}
				if m[k], err = l.value(budget, depth+1); err != nil {
					return nil, err
				}
			}
		case '[':
			a := []any{} // [] decodes as an empty array, not null
			for {
				more, err := l.More()
				if err != nil {
					return nil, err
				}
				if !more {
					return a, nil
				}
				e, err := l.value(budget, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, e)
			}
		}
		return nil, syntaxErr("unexpected %q", byte(t))
	case string:
		if *budget -= len(t); *budget < 0 {
			return nil, syntaxErr("value too large")
		}
	case json.Number:
		*budget -= len(t)
	}
	return t, nil
}
