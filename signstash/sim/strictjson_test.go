package sim

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func checkAll(b []byte, oneByte bool) error {
	var r io.Reader = newJSONCheck(strings.NewReader(string(b)))
	if oneByte {
		r = newJSONCheck(iotest.OneByteReader(strings.NewReader(string(b))))
	}
	_, err := io.Copy(io.Discard, r)
	return err
}

func TestJSONCheck(t *testing.T) {
	for _, ok := range []string{`{}`, ` [ ] `, `{"a":[1,-0.5e+3,true,false,null,"x\u00e9\n"],"b":{}}`, `"s"`, `0`, `-12`, "{\"a\"\t:\n1}\n"} {
		if err := checkAll([]byte(ok), false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		`{"a":1 "b":2}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{,"a":1}`, `{"a"::1}`, `[,1]`, `{"a":1}{}`, `{"a":1} x`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12g4"}`, `{"a":1`, ``, `{a:1}`, "\"a\x01\"", `{"a":1]`,
	} {
		if err := checkAll([]byte(bad), false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzJSONCheck: the checker agrees with encoding/json on what is well
// formed, whatever the read sizes.
func FuzzJSONCheck(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\"y\\u0041"],"b":null}`, `{"a" 1}`, `[1,,2]`, `{"a":1}{}`, `  -0 `, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		for _, oneByte := range []bool{false, true} {
			if got := checkAll(b, oneByte) == nil; got != want {
				t.Fatalf("%q (one byte at a time: %v): well formed = %v, encoding/json says %v", b, oneByte, got, want)
			}
		}
	})
}
