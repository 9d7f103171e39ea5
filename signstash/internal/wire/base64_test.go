package wire

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzBase64 holds Base64 to encoding/base64: the same text for any
// bytes, and for any text the same bytes or an error where it errs.
func FuzzBase64(f *testing.F) {
	for _, s := range []string{"", "QQ==", "QUJD", "QU\r\nJD", "QQ==QQ==", "Q", "QUJ", "!!!!", "QUJDRA==\n", strings.Repeat("QUJD", 20000) + "QQ=="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b Base64
		var enc bytes.Buffer
		if _, err := b.Encode(&enc, iotest.HalfReader(bytes.NewReader(in))); err != nil {
			t.Fatal(err)
		}
		if enc.String() != base64.StdEncoding.EncodeToString(in) {
			t.Fatalf("Encode(%q) = %q", in, enc.String())
		}
		want, wantErr := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(in)))
		var got bytes.Buffer
		_, err := b.Decode(&got, iotest.OneByteReader(bytes.NewReader(in)))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Decode(%q): error %v, encoding/base64 %v", in, err, wantErr)
		}
		if err == nil && !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("Decode(%q) = %q, want %q", in, got.Bytes(), want)
		}
	})
}

func TestBase64LargeRoundTrip(t *testing.T) {
	in := make([]byte, 3<<20+7)
	for i := range in {
		in[i] = byte(i * 7 % 251)
	}
	var b Base64
	var enc, dec bytes.Buffer
	if _, err := b.Encode(&enc, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	// MIME-style line breaks are ignored, as encoding/base64 does.
	s := enc.String()
	var lines strings.Builder
	for i := 0; i < len(s); i += 76 {
		lines.WriteString(s[i:min(i+76, len(s))] + "\r\n")
	}
	n, err := b.Decode(&dec, strings.NewReader(lines.String()))
	if err != nil || n != int64(len(in)) || !bytes.Equal(dec.Bytes(), in) {
		t.Fatalf("round trip: %d bytes, %v", n, err)
	}
	var ce base64.CorruptInputError
	_, err = b.Decode(io.Discard, strings.NewReader(s[:100000]+"*"+s[100000:]))
	if !errorsAs(err, &ce) || int64(ce) != 100000 {
		t.Fatalf("corrupt input: %v, want offset 100000", err)
	}
}

func errorsAs(err error, ce *base64.CorruptInputError) bool {
	c, ok := err.(base64.CorruptInputError)
	*ce = c
	return ok
}

// FuzzPlainRun holds the eight-bytes-at-a-time scan to the plain loop.
func FuzzPlainRun(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefgh\"", "abcdefghij\\k", "abcdefghijklmnop\x1f", "\x7f\x80\xff\xe2\x82\xac123456789\"", "        \x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		want := len(buf)
		for i, c := range buf {
			if c < 0x20 || c == '"' || c == '\\' {
				want = i
				break
			}
		}
		if got := plainRun(buf); got != want {
			t.Fatalf("plainRun(%q) = %d, want %d", buf, got, want)
		}
	})
}
