package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in the file as a string: "500ms",
// "30s", "5m", "24h", "1h30m", or a whole number of days such as "90d"
// (optionally followed by a Go duration: "1d12h"). Negative values are
// rejected.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler, writing whole days as "Nd".
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String formats d the way the file writes it.
func (d Duration) String() string {
	const day = 24 * time.Hour
	if d.Duration > 0 && d.Duration%day == 0 {
		return strconv.FormatInt(int64(d.Duration/day), 10) + "d"
	}
	return d.Duration.String()
}

func parseDuration(orig string) (time.Duration, error) {
	s := strings.TrimSpace(orig)
	if s == "" {
		return 0, errors.New(`empty duration; write e.g. "30s", "5m", "24h" or "90d"`)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return 0, fmt.Errorf(`duration %q has no unit; write e.g. "%ss"`, s, s)
	}
	var days int64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf(`invalid duration %q; days are written as a whole number, e.g. "90d"`, orig)
		}
		if n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is too long", orig)
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf(`invalid duration %q; write e.g. "30s", "5m", "24h" or "90d"`, orig)
		}
		rest = v
	}
	total := time.Duration(days)*24*time.Hour + rest
	if total < rest {
		return 0, fmt.Errorf("duration %q is too long", orig)
	}
	return total, nil
}

// Size is a number of bytes. The file writes it as an integer (1048576) or as
// a string with a unit: "512KB", "20MB", "1GB" are decimal (1 MB = 1,000,000
// bytes), "512KiB", "20MiB", "1GiB" are binary (1 MiB = 1,048,576 bytes).
// Units are case-insensitive; decimals are allowed ("1.5MB").
type Size int64

// Common sizes.
const (
	KB  Size = 1000
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
	KiB Size = 1024
	MiB Size = 1024 * KiB
	GiB Size = 1024 * MiB
)

var sizeUnits = []struct {
	name string
	mult float64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", float64(KiB)}, {"mib", float64(MiB)}, {"gib", float64(GiB)}, {"tib", float64(GiB) * 1024},
	{"kb", float64(KB)}, {"mb", float64(MB)}, {"gb", float64(GB)}, {"tb", float64(GB) * 1000},
	{"b", 1},
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := parseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: an integer is a number of
// bytes, a string is read as by UnmarshalText.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("size %d is negative", x)
		}
		*s = Size(x)
		return nil
	case string:
		return s.UnmarshalText([]byte(x))
	}
	return fmt.Errorf(`a size is written as "20MB" or 20000000, not as %s`, typeName(v))
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String formats s with the largest unit that divides it exactly.
func (s Size) String() string {
	if s > 0 {
		for _, u := range []struct {
			name string
			v    Size
		}{{"GiB", GiB}, {"GB", GB}, {"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB}} {
			if s%u.v == 0 {
				return strconv.FormatInt(int64(s/u.v), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

func parseSize(str string) (Size, error) {
	s := strings.ToLower(strings.TrimSpace(str))
	if s == "" {
		return 0, errors.New(`empty size; write e.g. "20MB" or a number of bytes`)
	}
	mult := 1.0
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.name) {
			mult, s = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.name))
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || strings.ContainsAny(s, "xp_") {
		return 0, fmt.Errorf(`invalid size %q; write e.g. "512KB", "20MB", "1GiB" or a number of bytes`, str)
	}
	if n < 0 {
		return 0, fmt.Errorf("size %q is negative", str)
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", str)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", str)
	}
	return Size(v), nil
}

// FileMode is a file's permission bits. The file writes it in octal, as a
// string ("0640") or a TOML octal integer (0o640); only the nine permission
// bits are allowed. (A decimal integer such as 640 is refused by the
// decoder, which sees how the number was written: it is another mode.)
type FileMode uint32

// UnmarshalTOML implements toml.Unmarshaler.
func (m *FileMode) UnmarshalTOML(v any) error {
	var n int64
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if len(s) > 2 && (s[:2] == "0o" || s[:2] == "0O") {
			s = s[2:]
		}
		u, err := strconv.ParseUint(s, 8, 32)
		if err != nil {
			return fmt.Errorf(`invalid file mode %q; write it in octal, e.g. "0640"`, x)
		}
		n = int64(u)
	case int64:
		n = x
	default:
		return fmt.Errorf(`a file mode is written "0640" or 0o640, not as %s`, typeName(v))
	}
	if n < 0 || n > 0o777 {
		return fmt.Errorf(`file mode %#o is not a permission: at most "0777"`, n)
	}
	*m = FileMode(n)
	return nil
}

// MarshalText implements encoding.TextMarshaler, writing four octal digits.
func (m FileMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// String formats m as four octal digits, e.g. "0640".
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// Perm returns m as an os.FileMode.
func (m FileMode) Perm() os.FileMode { return os.FileMode(m) & os.ModePerm }
