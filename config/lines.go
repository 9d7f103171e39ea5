package config

import (
	"strconv"
	"strings"
)

// The TOML decoder does not say where a key sits in the file, so
// indexLines reads the (already valid) source once more and records the line
// of every table header and key, under the same key paths the decoder
// reports: "folders[1].signature.reason", `backends."my backend".type`.
// Keys inside inline tables are not indexed; lineOf falls back to the
// enclosing key.

// joinKey appends one key segment to a dotted path, quoting it when it is
// not a bare TOML key.
func joinKey(path, seg string) string {
	q := seg
	if seg == "" || strings.IndexFunc(seg, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) >= 0 {
		q = strconv.Quote(seg)
	}
	if path == "" {
		return q
	}
	return path + "." + q
}

// indexKey appends an array index to a path.
func indexKey(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// lineOf returns the line of key, or of its nearest enclosing key or table
// that has one; 0 when none does.
func lineOf(lines map[string]int, key string) int {
	for key != "" {
		if n, ok := lines[key]; ok {
			return n
		}
		key = parentKey(key)
	}
	return 0
}

// parentKey strips the last segment or array index of a key path.
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndexByte(key, '['); i >= 0 {
			return key[:i]
		}
	}
	// Find the last '.' outside quotes.
	last, inQuote := -1, false
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				last = i
			}
		}
	}
	if last < 0 {
		return ""
	}
	return key[:last]
}

// lineScanner tracks what spans lines: multi-line strings and open
// brackets of arrays and inline tables.
type lineScanner struct {
	ml    string // closing delimiter of the multi-line string we are in
	depth int    // open [ and { of a value
}

func (s *lineScanner) continuing() bool { return s.ml != "" || s.depth > 0 }

// scan consumes one line (or the rest of one) of a value.
func (s *lineScanner) scan(line string) {
	for i := 0; i < len(line); i++ {
		if s.ml != "" {
			if s.ml == `"""` && line[i] == '\\' {
				i++
				continue
			}
			if strings.HasPrefix(line[i:], s.ml) {
				i += len(s.ml) - 1
				// A closing delimiter may be followed by up to two quotes
				// that belong to the string.
				for i+1 < len(line) && line[i+1] == s.ml[0] {
					i++
				}
				s.ml = ""
			}
			continue
		}
		switch c := line[i]; c {
		case '#':
			return
		case '"', '\'':
			delim := string([]byte{c, c, c})
			if strings.HasPrefix(line[i:], delim) {
				s.ml = delim
				i += 2
				continue
			}
			i = skipString(line, i)
		case '[', '{':
			s.depth++
		case ']', '}':
			s.depth--
		}
	}
}

// skipString returns the index of the closing quote of the single-line
// string that opens at line[i].
func skipString(line string, i int) int {
	q := line[i]
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			if q == '"' {
				j++
			}
		case q:
			return j
		}
	}
	return len(line)
}

// splitKey splits a dotted TOML key ("a.\"b c\".d") into unquoted segments.
func splitKey(s string) []string {
	var segs []string
	for {
		s = strings.TrimSpace(s)
		if s == "" {
			return segs
		}
		var seg string
		switch s[0] {
		case '"', '\'':
			end := skipString(s, 0)
			seg = s[1:min(end, len(s))]
			if s[0] == '"' {
				if u, err := strconv.Unquote(`"` + seg + `"`); err == nil {
					seg = u
				}
			}
			s = s[min(end+1, len(s)):]
		default:
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			seg = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		segs = append(segs, seg)
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(s, ".")
	}
}

// keyEnd returns the index of the '=' ending the key at the start of line,
// or -1.
func keyEnd(line string) int {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"', '\'':
			i = skipString(line, i)
		case '=':
			return i
		case '#':
			return -1
		}
	}
	return -1
}

// indexLines maps key paths to their 1-based lines in src.
func indexLines(src []byte) map[string]int {
	lines := map[string]int{}
	arrays := map[string]int{} // array-of-tables path -> elements so far
	record := func(key string, n int) {
		if _, ok := lines[key]; !ok {
			lines[key] = n
		}
	}
	// resolve turns header segments into a key path, following the latest
	// element of every array of tables on the way.
	// Enclosing keys get the header's line unless they have their own.
	resolve := func(segs []string, n int) string {
		p := ""
		for _, s := range segs {
			p = joinKey(p, s)
			if c, ok := arrays[p]; ok {
				p = indexKey(p, c-1)
			}
			record(p, n)
		}
		return p
	}
	var sc lineScanner
	table := ""
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		if sc.continuing() {
			sc.scan(line)
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			segs := splitKey(t[2:end])
			if len(segs) == 0 {
				continue
			}
			arr := joinKey(resolve(segs[:len(segs)-1], n), segs[len(segs)-1])
			record(arr, n)
			arrays[arr]++
			table = indexKey(arr, arrays[arr]-1)
			record(table, n)
		case t[0] == '[':
			end := skipHeader(t)
			table = resolve(splitKey(t[1:end]), n)
		default:
			eq := keyEnd(t)
			if eq < 0 {
				continue
			}
			p := table
			for _, s := range splitKey(t[:eq]) {
				p = joinKey(p, s)
				record(p, n)
			}
			sc.scan(t[eq+1:])
		}
	}
	return lines
}

// skipHeader returns the index of the ']' closing a [table] header.
func skipHeader(t string) int {
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case '"', '\'':
			i = skipString(t, i)
		case ']':
			return i
		}
	}
	return len(t)
}
