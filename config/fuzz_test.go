package config

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzLines indexes arbitrary bytes as a configuration file. The indexer
// never panics, every line it records is a line of the file, and lineOf
// ends for every key. When the bytes are TOML, Parse reports problems only
// on lines of the file.
func FuzzLines(f *testing.F) {
	if b, err := os.ReadFile("../config.example.toml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"title = \"\"\"\n[not a table]\nkey = \"inside\"\n\"\"\"\narr = [\n  \"a\", # ] not closing\n  \"b\",\n]\n",
		"[backends.\"my backend\"]\ntype = 'local'\n\"quoted.key\" = 1\n[[folders]]\nname = \"a#b\"\n[[folders]]\nsignature.reason = \"x\"\n[folders.signature.visible]\npage = 1\nlit = '''\nx = 1\n'''\nafter = 2\n",
		"[[folders]]\ninbox = \"in\"\nsettle = \"fast\"\n[[folders]]\ninbox = 3\n",
		"a = \"\"\"x\\\"\"\"\"\"\nb = {c = [1, {d = 2}]}\n",
		"[a\n\"b\n",
		"output_mode = 0o640\n[backends.m]\ntype = \"signstash\"\ntransport = \"multipart\"\n[[folders]]\nsignature.visible = { location = \"placeholder\", placeholder = \"[S]\" }\n",
		"output_mode = 640\n- = 1\n\"\" = 2\ndata_dir = \"C:\\temp\"\n[[folders]]\ninclude = [1, \"*.pdf\"]\nsettle = 3\nmax_bytes = -5\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		n := bytes.Count(src, []byte("\n")) + 1
		lines := indexLines(src)
		for key, line := range lines {
			if line < 1 || line > n {
				t.Fatalf("%s at line %d of a %d-line file", key, line, n)
			}
			for _, k := range []string{key, key + ".x", key + "[0]", key + `."a.b"`} {
				if l := lineOf(lines, k); l < 1 || l > n {
					t.Fatalf("lineOf(%s) = %d in a %d-line file", k, l, n)
				}
			}
		}
		lineOf(lines, string(src))

		_, err := Parse(src, "fuzz.toml")
		var ps *Problems
		if err != nil && !errors.As(err, &ps) {
			t.Fatalf("Parse: %v is not a *Problems", err)
		}
		if ps != nil {
			for _, p := range *ps {
				if p.Line < 0 || p.Line > n {
					t.Fatalf("problem at line %d of a %d-line file: %s", p.Line, n, p)
				}
			}
		}
	})
}
