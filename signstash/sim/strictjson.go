package sim

import (
	"errors"
	"fmt"
	"io"
)

// jsonCheck passes a JSON text through unchanged while checking, byte by
// byte, that it is well formed: one value, separators exactly where the
// grammar puts them, nothing but white space after it. The streaming
// request reader (wire.Lexer) skips ',' and ':' wherever they appear, so
// a strict emulator reads requests through a jsonCheck: the first byte that
// breaks the grammar fails the read, before the lexer sees it.
type jsonCheck struct {
	r     io.Reader
	stack []byte // open containers: '{' or '['
	st    jstate
	lit   string // rest of a literal being read (true, false, null)
	hex   int    // \u digits left
	key   bool   // the string being read is an object key
	off   int64
	err   error
}

type jstate uint8

const (
	jValue      jstate = iota // a value must start
	jValueOrEnd               // after '[': a value or ']'
	jKeyOrEnd                 // after '{': a key or '}'
	jKey                      // after ',' in an object: a key
	jColon                    // after a key
	jAfter                    // after a value: ',' or a closer, or the end at top level
	jString                   // inside a string
	jEscape                   // after '\'
	jLiteral                  // inside true/false/null
	jMinus                    // number: after '-'
	jZero                     // number: a leading 0
	jInt                      // number: integer digits
	jDot                      // number: after '.'
	jFrac                     // number: fraction digits
	jExp                      // number: after 'e'
	jExpSign                  // number: after 'e+' or 'e-'
	jExpDigits                // number: exponent digits
	jDone                     // top-level value complete: white space only
)

// maxJSONDepth matches encoding/json's nesting limit.
const maxJSONDepth = 10000

func newJSONCheck(r io.Reader) *jsonCheck { return &jsonCheck{r: r} }

var errJSONSyntax = errors.New("malformed JSON")

func (c *jsonCheck) fail(b byte, what string) error {
	c.err = fmt.Errorf("%w: %s at byte %d (%q)", errJSONSyntax, what, c.off, b)
	return c.err
}

func (c *jsonCheck) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		// Fast path: the body of a string (base64 content is most of a request).
		if c.st == jString {
			j := i
			for j < n && p[j] != '"' && p[j] != '\\' && p[j] >= 0x20 {
				j++
			}
			c.off += int64(j - i)
			if i = j; i == n {
				break
			}
		}
		if e := c.step(p[i]); e != nil {
			return i, e
		}
		c.off++
	}
	if err == io.EOF {
		if c.st == jZero || c.st == jInt || c.st == jFrac || c.st == jExpDigits {
			c.endValue()
		}
		if c.st != jDone {
			c.err = fmt.Errorf("%w: unexpected end of input", errJSONSyntax)
			return n, c.err
		}
	}
	return n, err
}

func isWS(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// endValue moves past a complete value.
func (c *jsonCheck) endValue() {
	if len(c.stack) == 0 {
		c.st = jDone
	} else {
		c.st = jAfter
	}
}

func (c *jsonCheck) step(b byte) error {
	switch c.st {
	case jString:
		switch {
		case b == '"':
			if c.key {
				c.key = false
				c.st = jColon
				return nil
			}
			c.endValue()
		case b == '\\':
			c.st = jEscape
		case b < 0x20:
			return c.fail(b, "control character in string")
		}
		return nil
	case jEscape:
		if c.hex > 0 {
			if !isHex(b) {
				return c.fail(b, "bad \\u escape")
			}
			if c.hex--; c.hex == 0 {
				c.st = jString
			}
			return nil
		}
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			c.st = jString
		case 'u':
			c.hex = 4
		default:
			return c.fail(b, "bad escape")
		}
		return nil
	case jLiteral:
		if b != c.lit[0] {
			return c.fail(b, "bad literal")
		}
		if c.lit = c.lit[1:]; c.lit == "" {
			c.endValue()
		}
		return nil
	case jMinus:
		switch {
		case b == '0':
			c.st = jZero
		case b >= '1' && b <= '9':
			c.st = jInt
		default:
			return c.fail(b, "bad number")
		}
		return nil
	case jZero, jInt:
		switch {
		case b >= '0' && b <= '9' && c.st == jInt:
			return nil
		case b == '.':
			c.st = jDot
			return nil
		case b == 'e' || b == 'E':
			c.st = jExp
			return nil
		}
		c.endValue()
		return c.step(b)
	case jDot:
		if b < '0' || b > '9' {
			return c.fail(b, "bad number")
		}
		c.st = jFrac
		return nil
	case jFrac:
		switch {
		case b >= '0' && b <= '9':
			return nil
		case b == 'e' || b == 'E':
			c.st = jExp
			return nil
		}
		c.endValue()
		return c.step(b)
	case jExp:
		switch {
		case b == '+' || b == '-':
			c.st = jExpSign
		case b >= '0' && b <= '9':
			c.st = jExpDigits
		default:
			return c.fail(b, "bad exponent")
		}
		return nil
	case jExpSign:
		if b < '0' || b > '9' {
			return c.fail(b, "bad exponent")
		}
		c.st = jExpDigits
		return nil
	case jExpDigits:
		if b >= '0' && b <= '9' {
			return nil
		}
		c.endValue()
		return c.step(b)
	}
	if isWS(b) {
		return nil
	}
	switch c.st {
	case jDone:
		return c.fail(b, "data after the top-level value")
	case jColon:
		if b != ':' {
			return c.fail(b, "expected ':'")
		}
		c.st = jValue
		return nil
	case jKeyOrEnd, jKey:
		if b == '}' && c.st == jKeyOrEnd {
			c.stack = c.stack[:len(c.stack)-1]
			c.endValue()
			return nil
		}
		if b != '"' {
			return c.fail(b, "expected an object key")
		}
		c.st, c.key = jString, true
		return nil
	case jAfter:
		top := c.stack[len(c.stack)-1]
		switch {
		case b == ',' && top == '{':
			c.st = jKey
		case b == ',':
			c.st = jValue
		case (b == '}' && top == '{') || (b == ']' && top == '['):
			c.stack = c.stack[:len(c.stack)-1]
			c.endValue()
		default:
			return c.fail(b, "expected ',' or a closing bracket")
		}
		return nil
	case jValueOrEnd:
		if b == ']' {
			c.stack = c.stack[:len(c.stack)-1]
			c.endValue()
			return nil
		}
	}
	// jValue, or jValueOrEnd with a value.
	switch {
	case b == '{' || b == '[':
		if len(c.stack) >= maxJSONDepth {
			return c.fail(b, "nesting too deep")
		}
		c.stack = append(c.stack, b)
		if b == '{' {
			c.st = jKeyOrEnd
		} else {
			c.st = jValueOrEnd
		}
	case b == '"':
		c.st = jString
	case b == 't':
		c.st, c.lit = jLiteral, "rue"
	case b == 'f':
		c.st, c.lit = jLiteral, "alse"
	case b == 'n':
		c.st, c.lit = jLiteral, "ull"
	case b == '-':
		c.st = jMinus
	case b == '0':
		c.st = jZero
	case b >= '1' && b <= '9':
		c.st = jInt
	default:
		return c.fail(b, "expected a value")
	}
	return nil
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}
