package xades

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// maxEntityExpansion bounds the bytes that references to entities of the
// internal DTD subset may add to a document, so that nested entities (the
// "billion laughs") are refused after a small, bounded amount of work.
const maxEntityExpansion = 1 << 20

// unsupportedError is well-formed XML that we refuse to sign because a
// verifier could read it differently from us, or would have to fetch
// something to read it at all.
type unsupportedError struct{ what string }

func (e *unsupportedError) Error() string { return e.what }

func unsupported(format string, args ...any) error {
	return &unsupportedError{fmt.Sprintf(format, args...)}
}

// expandEntities returns data with every reference to a general entity
// declared in its internal DTD subset replaced by the entity's replacement
// text, as XML 1.0 §4.4 asks of every reader, written so that a reader
// that knows only the predefined entities reads the same document. The
// declarations stay as they are (canonicalization drops them anyway).
//
// Only what a verifier reads identically from the document alone is
// accepted: internal entities whose replacement text holds no markup,
// element and notation declarations, and attribute lists whose attributes
// are CDATA without defaults. External entities (SYSTEM or PUBLIC) are
// refused rather than left unexpanded or fetched: a verifier that
// substitutes entities would try to load them, and would then read bytes
// we never saw. Parameter entities, attribute defaults and typed attributes
// (which change attribute values) are refused too.
func expandEntities(data []byte) ([]byte, error) {
	start, end, at, ok := internalSubset(data)
	if !ok {
		return data, nil
	}
	ents, err := parseSubset(data[start:end])
	if err != nil {
		return nil, err
	}
	if len(ents) == 0 {
		return data, nil
	}
	x := &expander{ents: ents, active: map[string]bool{}}
	out := bytes.NewBuffer(make([]byte, 0, len(data)))
	out.Write(data[:at])
	if err := x.document(out, data, at); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// internalSubset finds the internal subset of the document type
// declaration in data's prolog: data[start:end] lies between its brackets,
// and the declaration ends before data[after].
func internalSubset(data []byte) (start, end, after int, ok bool) {
	i := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		i = 3
	}
	for i < len(data) {
		switch rest := data[i:]; {
		case isSpace(data[i]):
			i++
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(data, i, "?>")
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(data, i, "-->")
		case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
			quote := byte(0)
			for j := i + len("<!DOCTYPE"); j < len(data); j++ {
				switch c := data[j]; {
				case quote != 0:
					if c == quote {
						quote = 0
					}
				case c == '"' || c == '\'':
					quote = c
				case c == '>':
					return 0, 0, 0, false
				case c == '[':
					e := doctypeEnd(data, i)
					k := bytes.LastIndexByte(data[:e], ']')
					if k <= j {
						return 0, 0, 0, false
					}
					return j + 1, k, e, true
				}
			}
			return 0, 0, 0, false
		default:
			return 0, 0, 0, false
		}
	}
	return 0, 0, 0, false
}

// parseSubset reads the declarations of an internal DTD subset and returns
// the replacement text of each general entity (the first declaration of a
// name wins). In a replacement text, character references to '&' and '<'
// are resolved, and those to white space are kept as a zero byte followed
// by the character, so that the reference can be put back where the
// entity is used: in an attribute value a literal white space character
// would become a space, a referenced one must not.
func parseSubset(s []byte) (map[string][]byte, error) {
	ents := map[string][]byte{}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return ents, nil
		}
		rest := s[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(s, i, "-->")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(s, i, "?>")
		case bytes.HasPrefix(rest, []byte("<!ELEMENT")), bytes.HasPrefix(rest, []byte("<!NOTATION")):
			if i = declEnd(s, i); i < 0 {
				return nil, errors.New("unterminated declaration in the DTD")
			}
		case bytes.HasPrefix(rest, []byte("<!ATTLIST")):
			j := declEnd(s, i)
			if j < len("<!ATTLIST>")+i {
				return nil, errors.New("unterminated declaration in the DTD")
			}
			if err := checkAttlist(s[i+len("<!ATTLIST") : j-1]); err != nil {
				return nil, err
			}
			i = j
		case bytes.HasPrefix(rest, []byte("<!ENTITY")):
			j := declEnd(s, i)
			if j < len("<!ENTITY>")+i {
				return nil, errors.New("unterminated declaration in the DTD")
			}
			name, text, err := entityDecl(s[i+len("<!ENTITY") : j-1])
			if err != nil {
				return nil, err
			}
			if _, dup := ents[name]; !dup && !predefined(name) {
				ents[name] = text
			}
			i = j
		case rest[0] == '%':
			return nil, unsupported("parameter entity references in the DTD are not supported")
		default:
			return nil, errors.New("malformed internal DTD subset")
		}
	}
}

// entityDecl reads the body of <!ENTITY ...>.
func entityDecl(d []byte) (string, []byte, error) {
	f := bytes.TrimSpace(d)
	if len(f) > 0 && f[0] == '%' {
		return "", nil, unsupported("parameter entities are not supported")
	}
	n := nameLen(f)
	if n == 0 {
		return "", nil, errors.New("malformed entity declaration")
	}
	name := string(f[:n])
	v := bytes.TrimSpace(f[n:])
	if bytes.HasPrefix(v, []byte("SYSTEM")) || bytes.HasPrefix(v, []byte("PUBLIC")) {
		return "", nil, unsupported("the external entity %q is not supported: external entities are never fetched", name)
	}
	if len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] || bytes.IndexByte(v[1:len(v)-1], v[0]) >= 0 {
		return "", nil, fmt.Errorf("malformed value of entity %q", name)
	}
	lit := v[1 : len(v)-1]
	if bytes.IndexByte(lit, 0) >= 0 {
		return "", nil, fmt.Errorf("entity %q holds a NUL character", name) // and a NUL marks references below
	}
	if bytes.IndexByte(lit, '%') >= 0 {
		return "", nil, unsupported("parameter entity references in entity %q are not supported", name)
	}
	var text []byte
	for i := 0; i < len(lit); {
		if lit[i] != '&' || i+1 >= len(lit) || lit[i+1] != '#' {
			text = append(text, lit[i])
			i++
			continue
		}
		j := bytes.IndexByte(lit[i:], ';')
		if j < 0 {
			return "", nil, fmt.Errorf("malformed character reference in entity %q", name)
		}
		ref := lit[i : i+j+1]
		r, err := charRef(ref)
		if err != nil {
			return "", nil, fmt.Errorf("entity %q: %w", name, err)
		}
		switch r {
		case '&', '<':
			text = append(text, byte(r))
		case '\t', '\n', '\r':
			text = append(text, 0, byte(r))
		default:
			text = append(text, ref...)
		}
		i += j + 1
	}
	if bytes.IndexByte(text, '<') >= 0 {
		return "", nil, unsupported("entity %q contains markup, which is not supported", name)
	}
	return name, text, nil
}

// checkAttlist accepts an attribute-list declaration only when it cannot
// change what is read: CDATA attributes that are #REQUIRED or #IMPLIED.
// Defaults would add attributes, other types normalize values further.
func checkAttlist(d []byte) error {
	f := bytes.Fields(d)
	if len(f) < 1 || (len(f)-1)%3 != 0 {
		return unsupported("attribute-list declarations other than CDATA #IMPLIED or #REQUIRED are not supported")
	}
	for i := 1; i < len(f); i += 3 {
		if string(f[i+1]) != "CDATA" || (string(f[i+2]) != "#IMPLIED" && string(f[i+2]) != "#REQUIRED") {
			return unsupported("attribute-list declarations other than CDATA #IMPLIED or #REQUIRED are not supported")
		}
	}
	return nil
}

func charRef(ref []byte) (rune, error) {
	body := string(ref[2 : len(ref)-1])
	base := 10
	if len(body) > 0 && body[0] == 'x' {
		body, base = body[1:], 16
	}
	n, err := strconv.ParseUint(body, base, 32)
	if err != nil || n == 0 || n > 0x10FFFF {
		return 0, fmt.Errorf("invalid character reference %s", ref)
	}
	return rune(n), nil
}

// expander substitutes entity references within a budget.
type expander struct {
	ents   map[string][]byte
	active map[string]bool // entities being expanded, to refuse recursion
	budget int             // bytes written from replacement texts so far
}

// document copies data[at:] to out, expanding references in content and
// in attribute values; comments, CDATA sections and processing
// instructions are copied as they are.
func (x *expander) document(out *bytes.Buffer, data []byte, at int) error {
	for i := at; i < len(data); {
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			j := skipPast(data, i, "-->")
			out.Write(data[i:j])
			i = j
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j := skipPast(data, i, "]]>")
			out.Write(data[i:j])
			i = j
		case bytes.HasPrefix(rest, []byte("<?")):
			j := skipPast(data, i, "?>")
			out.Write(data[i:j])
			i = j
		case rest[0] == '<':
			quote := byte(0)
			j := i
			for ; j < len(data); j++ {
				c := data[j]
				if quote != 0 {
					if c == quote {
						quote = 0
					} else if c == '&' {
						n, err := x.reference(out, data[j:], true)
						if err != nil {
							return err
						}
						if n > 0 {
							j += n - 1
							continue
						}
					}
				} else if c == '"' || c == '\'' {
					quote = c
				} else if c == '>' {
					out.WriteByte(c)
					j++
					break
				}
				out.WriteByte(c)
			}
			i = j
		case rest[0] == '&':
			n, err := x.reference(out, rest, false)
			if err != nil {
				return err
			}
			if n == 0 {
				out.WriteByte('&')
				n = 1
			}
			i += n
		default:
			out.WriteByte(rest[0])
			i++
		}
	}
	return nil
}

// reference expands the entity reference at the start of s (which begins
// with '&') and returns its length, or 0 when it is not a reference to a
// declared entity (character references, predefined entities and unknown
// names are left for the XML reader).
func (x *expander) reference(out *bytes.Buffer, s []byte, inAttr bool) (int, error) {
	n := nameLen(s[1:])
	if n == 0 || 1+n >= len(s) || s[1+n] != ';' {
		return 0, nil
	}
	name := string(s[1 : 1+n])
	text, ok := x.ents[name]
	if !ok {
		return 0, nil
	}
	if x.active[name] {
		return 0, unsupported("the entity %q refers to itself", name)
	}
	x.active[name] = true
	defer delete(x.active, name)
	for i := 0; i < len(text); {
		if x.budget++; x.budget > maxEntityExpansion {
			return 0, unsupported("entity expansion exceeds %d bytes", maxEntityExpansion)
		}
		c := text[i]
		switch {
		case c == 0:
			if inAttr {
				out.WriteByte(' ')
			} else {
				out.WriteString("&#" + strconv.Itoa(int(text[i+1])) + ";")
			}
			i += 2
		case c == '&':
			m, err := x.reference(out, text[i:], inAttr)
			if err != nil {
				return 0, err
			}
			if m == 0 {
				out.WriteByte('&')
				m = 1
			}
			i += m
		case inAttr && c == '"':
			out.WriteString("&quot;")
			i++
		case inAttr && c == '\'':
			out.WriteString("&apos;")
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	return 1 + n + 1, nil
}

// declEnd returns the offset just after the markup declaration starting at
// i: its '>' outside quotes; -1 if there is none.
func declEnd(s []byte, i int) int {
	quote := byte(0)
	for j := i + 2; j < len(s); j++ {
		switch c := s[j]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j + 1
		}
	}
	return -1
}

func skipPast(data []byte, i int, end string) int {
	j := bytes.Index(data[i:], []byte(end))
	if j < 0 {
		return len(data)
	}
	return i + j + len(end)
}

func nameLen(s []byte) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80 ||
			n > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.') {
			n++
			continue
		}
		break
	}
	return n
}

func predefined(name string) bool {
	switch name {
	case "lt", "gt", "amp", "apos", "quot":
		return true
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
