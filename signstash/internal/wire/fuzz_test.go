package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzLexer reads arbitrary bytes with every Lexer entry point. None may
// panic or loop. On valid JSON the lexer must agree with encoding/json:
// the same tokens, the same decoded value, Skip consuming exactly the value,
// and StringReader yielding the same string.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"x":"y"}],"b":true,"c":null,"d":-1.5e3,"e":"\ud83d\ude00","f":{"g":[]}}`,
		`{"signatures":[{"id":"d1","status":"SIGNED","document":"JVBERi0xLjcK","signatureInfo":{"signer":"CN=x","time":"2026-01-01T00:00:00Z"}}],"total":1}`,
		`"a\"b\\c\/d\b\f\n\r\t\u00e9\u2028"`,
		`[0, -0, 1e10, 1E-2, 12.5, true, false, null, "", {}]`,
		`"\ud800\u0041"`, // a lone surrogate once swallowed the escape after it
		`"\udc00\ud83d\ude00\ud83d"`,
		`{"a":1,"a":2}`,
		`{"f":{"g":[]}}`, // Decode once turned [] into null
		"\"\xff\xfe\"",
		`{"a" 1 , , "b":: [ , 2 ]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		walk(NewLexer(bytes.NewReader(data)), 0)
		var got any
		decErr := NewLexer(bytes.NewReader(data)).Decode(&got, 1<<30)
		if !json.Valid(data) {
			return
		}

		// Tokens.
		l := NewLexer(bytes.NewReader(data))
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		for i := 0; ; i++ {
			want, werr := d.Token()
			tok, err := l.Next()
			if werr == io.EOF {
				if err != io.EOF {
					t.Fatalf("token %d: lexer returned %#v, %v after the end", i, tok, err)
				}
				break
			}
			if err != nil {
				if n, ok := want.(json.Number); ok && len(n) > 64 {
					return // numbers are bounded by design
				}
				t.Fatalf("token %d: lexer: %v, encoding/json: %#v", i, err, want)
			}
			switch w := want.(type) {
			case json.Delim:
				want = Delim(w)
			case string:
				// Strings are passed on as sent; encoding/json replaces
				// each invalid UTF-8 byte by U+FFFD.
				if s, ok := tok.(string); ok {
					tok = string([]rune(s))
				}
			}
			if !reflect.DeepEqual(tok, want) {
				t.Fatalf("token %d: lexer %#v, encoding/json %#v", i, tok, want)
			}
		}

		// Decode.
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			// A number out of float64's range: Decode must refuse it too.
			if decErr == nil {
				t.Fatalf("Decode accepted what encoding/json refuses: %v", err)
			}
			return
		}
		if decErr != nil {
			if errors.Is(decErr, ErrSyntax) && depth(want) > 32 {
				return // refused by design
			}
			t.Fatalf("Decode: %v", decErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode: %#v, encoding/json: %#v", got, want)
		}

		// Skip and StringReader.
		l = NewLexer(bytes.NewReader(data))
		if err := l.Skip(); err != nil {
			t.Fatalf("Skip: %v", err)
		}
		if tok, err := l.Next(); err != io.EOF {
			t.Fatalf("after Skip: %#v, %v, want the end", tok, err)
		}
		if s, ok := want.(string); ok {
			r, err := NewLexer(bytes.NewReader(data)).StringReader()
			if err != nil {
				t.Fatalf("StringReader: %v", err)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("StringReader: %v", err)
			}
			if string([]rune(string(b))) != s {
				t.Fatalf("StringReader: %q, encoding/json: %q", b, s)
			}
		}
	})
}

// walk reads one value the way the Sign'Stash client does, knowing only
// what Peek shows. It stops at the first error.
func walk(l *Lexer, depth int) error {
	if depth > 64 {
		return l.Skip()
	}
	t, err := l.Peek()
	if err != nil {
		return err
	}
	switch t {
	case Delim('{'):
		if err := l.Expect('{'); err != nil {
			return err
		}
		for {
			k, ok, err := l.Key()
			if err != nil || !ok {
				return err
			}
			switch k {
			case "n":
				_, err = l.Int()
			case "b":
				_, err = l.Bool()
			case "s":
				_, err = l.String()
			case "r":
				var r io.Reader
				if r, err = l.StringReader(); err == nil {
					_, err = io.Copy(io.Discard, r)
				}
			default:
				err = walk(l, depth+1)
			}
			if err != nil {
				return err
			}
		}
	case Delim('['):
		if err := l.Expect('['); err != nil {
			return err
		}
		for {
			more, err := l.More()
			if err != nil || !more {
				return err
			}
			if err := walk(l, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = l.Next()
	return err
}

// depth is the nesting depth of a decoded JSON value.
func depth(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			n = max(n, depth(e))
		}
		return n + 1
	case []any:
		for _, e := range v {
			n = max(n, depth(e))
		}
		return n + 1
	}
	return 0
}
