package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// decoder fills a Config from the file's values, one key at a time, so that
// a bad value does not hide the next one: every problem is collected and
// named by its key path. The toml package decodes each value into the field
// its struct tag names. Each table starts from its defaults, so a key left
// out keeps its default and a key written explicitly keeps the value written
// (even 0 or "").
//
// Unknown keys are the keys no struct tag names, compared exactly: toml's
// own MetaData.Undecoded would accept "Inbox" for "inbox" (it matches field
// names without regard to case) and drops the index of [[folders]] keys.
type decoder struct {
	file     string
	src      []string // the file's lines
	md       toml.MetaData
	lines    map[string]int
	problems []Problem
}

func (d *decoder) errorf(key, hint, format string, args ...any) {
	p := problemf(key, hint, format, args...)
	p.File = d.file
	p.Line = lineOf(d.lines, key)
	d.problems = append(d.problems, p)
}

// Keys by table, in declaration order, for unknown-key suggestions.
var (
	topKeys       = keysOf(reflect.TypeFor[Config]())
	backendKeys   = keysOf(reflect.TypeFor[Backend]())
	folderKeys    = keysOf(reflect.TypeFor[Folder]())
	signatureKeys = keysOf(reflect.TypeFor[Signature]())
	visibleKeys   = keysOf(reflect.TypeFor[Visible]())
)

// keysOf returns the TOML keys of struct type t: its fields' toml tags.
func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// fieldIndex returns the index of the field of struct type t tagged key.
func fieldIndex(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("toml"); tag == key && tag != "" && tag != "-" {
			return i, true
		}
	}
	return 0, false
}

// secretKeys are keys people try for the client secret; their value is never
// echoed.
var secretKeys = map[string]bool{"client_secret": true, "secret": true, "password": true, "client_password": true}

// unknown reports a key that table type t does not have.
func (d *decoder) unknown(key, name string, t reflect.Type) {
	if t == reflect.TypeFor[Backend]() && secretKeys[name] {
		d.errorf(key, "put the secret in a file readable only by the service account and set client_secret_file, or name an environment variable with client_secret_env",
			"secrets are not accepted in the config file")
		return
	}
	hint := "remove it, or check its spelling and its table against config.example.toml"
	if s := suggest(name, keysOf(t)); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	d.errorf(key, hint, "unknown key %q", name)
}

// config decodes the file's top-level table over the defaults.
func (d *decoder) config(root map[string]toml.Primitive) *Config {
	c := Default()
	d.fields("", root, reflect.ValueOf(c).Elem())
	if len(c.Backends) == 0 {
		// [backends] was written, and none of its entries is a table.
		d.errorf("backends", `add one, e.g. [backends.local] with type = "local"`, "no backend is configured")
	}
	for name, b := range c.Backends {
		b.Name = name
	}
	for _, f := range c.Folders {
		if f.Backend == "" && len(c.Backends) == 1 {
			for name := range c.Backends {
				f.Backend = name
			}
		}
	}
	return c
}

// fields decodes the keys of table m into the struct dst, in file order.
func (d *decoder) fields(key string, m map[string]toml.Primitive, dst reflect.Value) {
	for _, k := range d.sortedKeys(key, m) {
		kk := joinKey(key, k)
		i, ok := fieldIndex(dst.Type(), k)
		if !ok {
			d.unknown(kk, k, dst.Type())
			continue
		}
		d.value(kk, m[k], dst.Field(i))
	}
}

// sortedKeys returns m's keys in file order (then by name), so problems and
// backends come out in a stable order.
func (d *decoder) sortedKeys(prefix string, m map[string]toml.Primitive) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := lineOf(d.lines, joinKey(prefix, keys[i])), lineOf(d.lines, joinKey(prefix, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

var (
	textType    = reflect.TypeFor[encoding.TextUnmarshaler]()
	tomlType    = reflect.TypeFor[toml.Unmarshaler]()
	durationTyp = reflect.TypeFor[Duration]()
	sizeTyp     = reflect.TypeFor[Size]()
	modeTyp     = reflect.TypeFor[FileMode]()
	backendPtr  = reflect.TypeFor[*Backend]()
	folderPtr   = reflect.TypeFor[*Folder]()
)

// value decodes p into dst and reports whether it could: tables into
// structs (and pointers to them), maps and arrays element by element,
// everything else as one value.
func (d *decoder) value(key string, p toml.Primitive, dst reflect.Value) bool {
	var raw any
	if err := d.md.PrimitiveDecode(p, &raw); err != nil {
		d.errorf(key, "", "%v", err)
		return false
	}
	t := dst.Type()
	leaf := reflect.PointerTo(t).Implements(textType) || reflect.PointerTo(t).Implements(tomlType)
	switch {
	case leaf:
		return d.leaf(key, p, raw, dst)
	case t.Kind() == reflect.Struct:
		m, ok := d.table(key, p, raw)
		if ok {
			d.fields(key, m, dst)
		}
		return ok
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		m, ok := d.table(key, p, raw)
		if ok {
			if dst.IsNil() {
				dst.Set(reflect.New(t.Elem()))
			}
			d.fields(key, m, dst.Elem())
		}
		return ok
	case t.Kind() == reflect.Map:
		m, ok := d.table(key, p, raw)
		if !ok {
			return false
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for _, k := range d.sortedKeys(key, m) {
			e := d.element(t.Elem(), raw.(map[string]any)[k])
			if d.value(joinKey(key, k), m[k], e) {
				out.SetMapIndex(reflect.ValueOf(k), e)
			}
		}
		dst.Set(out)
		return true
	case t.Kind() == reflect.Slice:
		var ps []toml.Primitive
		if reflect.ValueOf(raw).Kind() != reflect.Slice || d.md.PrimitiveDecode(p, &ps) != nil {
			if t.Elem() == folderPtr {
				d.errorf(key, fmt.Sprintf("write each one as [[%s]]", key), "must be an array of tables, not %s", typeName(raw))
			} else {
				d.errorf(key, "", `must be an array of strings, e.g. ["*.pdf"], not %s`, typeName(raw))
			}
			return false
		}
		out := reflect.MakeSlice(t, 0, len(ps))
		for i := range ps {
			e := d.element(t.Elem(), reflect.ValueOf(raw).Index(i).Interface())
			if d.value(indexKey(key, i), ps[i], e) {
				out = reflect.Append(out, e)
			}
		}
		dst.Set(out)
		return true
	default:
		return d.leaf(key, p, raw, dst)
	}
}

// element returns a settable new element of type t for the TOML value raw,
// holding its table's defaults: a backend's depend on its type.
func (d *decoder) element(t reflect.Type, raw any) reflect.Value {
	e := reflect.New(t).Elem()
	switch t {
	case backendPtr:
		m, _ := raw.(map[string]any)
		typ, _ := m["type"].(string)
		e.Set(reflect.ValueOf(defaultBackend("", typ)))
	case folderPtr:
		e.Set(reflect.ValueOf(DefaultFolder()))
	}
	return e
}

// table splits the TOML table p (raw, decoded) into its keys' values.
func (d *decoder) table(key string, p toml.Primitive, raw any) (map[string]toml.Primitive, bool) {
	var m map[string]toml.Primitive
	if _, ok := raw.(map[string]any); !ok || d.md.PrimitiveDecode(p, &m) != nil {
		d.errorf(key, "", "must be a table, not %s", typeName(raw))
		return nil, false
	}
	return m, true
}

// leaf decodes one value. A value of the wrong TOML type is reported without
// echoing it (it might be a secret typed into the wrong key); a value the
// type's own parser refuses (a duration, a size) gets that parser's message.
func (d *decoder) leaf(key string, p toml.Primitive, raw any, dst reflect.Value) bool {
	if want, hint, ok := accepts(dst.Type(), raw); !ok {
		d.errorf(key, hint, "must be %s, not %s", want, typeName(raw))
		return false
	}
	if n, isInt := raw.(int64); isInt && dst.Type() == modeTyp && !d.octal(key) {
		d.errorf(key, fmt.Sprintf(`write the mode in octal: "0%d" or 0o%d`, n, n), "%d is a decimal number, not a file mode", n)
		return false
	}
	v := reflect.New(dst.Type())
	if err := d.md.PrimitiveDecode(p, v.Interface()); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			d.errorf(key, "", "%s", pe.Message)
		} else {
			d.errorf(key, "", "%v", err)
		}
		return false
	}
	if v.Elem().Kind() == reflect.Int {
		if n := v.Elem().Int(); n > math.MaxInt32 || n < math.MinInt32 {
			d.errorf(key, "", "%d is out of range", n)
			return false
		}
	}
	dst.Set(v.Elem())
	return true
}

// octal reports whether the integer at key is written as a TOML octal
// number (0o640) on its line.
func (d *decoder) octal(key string) bool {
	n := lineOf(d.lines, key)
	if n < 1 || n > len(d.src) {
		return false
	}
	line := d.src[n-1]
	if eq := keyEnd(line); eq >= 0 {
		line = line[eq+1:]
	}
	line = strings.TrimSpace(line)
	return strings.HasPrefix(line, "0o")
}

// accepts reports whether the TOML value raw has a type that can be decoded
// into t and, when it has not, what to write instead.
func accepts(t reflect.Type, raw any) (want, hint string, ok bool) {
	switch t {
	case durationTyp:
		_, ok = raw.(string)
		hint = `write durations as quoted strings, e.g. "30s", "5m", "24h" or "90d"`
		if n, isInt := raw.(int64); isInt {
			hint = fmt.Sprintf(`write durations as quoted strings with a unit, e.g. "%ds"`, n)
		}
		return "a duration string", hint, ok
	case sizeTyp:
		switch raw.(type) {
		case string, int64:
			ok = true
		}
		return "a size", `e.g. "20MB" or 20000000`, ok
	case modeTyp:
		switch raw.(type) {
		case string, int64:
			ok = true
		}
		return "a file mode", `write it in octal: "0640" or 0o640`, ok
	}
	switch t.Kind() {
	case reflect.String:
		_, ok = raw.(string)
		return "a string", "", ok
	case reflect.Bool:
		_, ok = raw.(bool)
		return "true or false", "", ok
	case reflect.Int:
		_, ok = raw.(int64)
		return "an integer", "", ok
	case reflect.Float64:
		switch raw.(type) {
		case float64, int64:
			ok = true
		}
		return "a number", "", ok
	}
	return "", "", true
}

// typeName names the TOML type of a decoded value.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case map[string]any:
		return "a table"
	case []map[string]any, []any:
		return "an array"
	default:
		return "a date or time"
	}
}

// suggest returns the known name closest to name, if it is close enough to
// be a typo.
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dd := editDistance(name, k); dd < bestD {
			best, bestD = k, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
