package signstash

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// zipEntry is an entry for buildZip: written by archive/zip's Create (its
// sizes after its data) unless raw, when its sizes and CRC-32 are in its
// local header (CreateRaw, as a Java service writes stored entries).
type zipEntry struct {
	name   string
	data   []byte
	method uint16
	raw    bool
}

func buildZip(t testing.TB, comment string, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: e.method}
		if !e.raw {
			w, err := zw.CreateHeader(fh)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.data)
			continue
		}
		body := e.data
		if e.method == zip.Deflate {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestSpeed)
			fw.Write(e.data)
			fw.Close()
			body = c.Bytes()
		}
		fh.CRC32 = crc32.ChecksumIEEE(e.data)
		fh.CompressedSize64, fh.UncompressedSize64 = uint64(len(body)), uint64(len(e.data))
		w, err := zw.CreateRaw(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if comment != "" {
		zw.SetComment(comment)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readStream returns the entries streamZip reads from data, in order.
func readStream(data []byte, max uint64) ([]string, [][]byte, error) {
	return readStreamFrom(bytes.NewReader(data), max)
}

func readStreamFrom(src io.Reader, max uint64) ([]string, [][]byte, error) {
	var names []string
	var contents [][]byte
	err := streamZip(src, max, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		names, contents = append(names, name), append(contents, b)
		return nil
	})
	return names, contents, err
}

// sameAsArchiveZip fails t unless archive/zip reads from data exactly the
// entries streamZip read: same names, order and contents.
func sameAsArchiveZip(t testing.TB, data []byte, names []string, contents [][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		t.Fatalf("streamZip read an archive archive/zip refuses: %v", err)
	}
	if len(zr.File) != len(names) {
		t.Fatalf("streamZip read %d entries, archive/zip %d", len(names), len(zr.File))
	}
	for i, f := range zr.File {
		if f.Name != names[i] {
			t.Fatalf("entry %d: streamZip read %q, archive/zip %q", i, names[i], f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("entry %q: archive/zip cannot open it: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("entry %q: archive/zip cannot read it: %v", f.Name, err)
		}
		if !bytes.Equal(b, contents[i]) {
			t.Fatalf("entry %q: streamZip read %d bytes, archive/zip %d other ones", f.Name, len(contents[i]), len(b))
		}
	}
}

func streamSamples(t testing.TB) map[string][]byte {
	pdf := bytes.Repeat([]byte("%PDF-1.7 signed content "), 3000)
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	return map[string][]byte{
		"deflated, sizes after the data": buildZip(t, "", zipEntry{name: "r.d1.a.pdf", data: pdf, method: zip.Deflate}, zipEntry{name: "r.d2.b.pdf", data: random, method: zip.Deflate}),
		"stored, sizes first":            buildZip(t, "", zipEntry{name: "r.d1.a.pdf", data: pdf, raw: true}, zipEntry{name: "r.d2.fatura nº 7.pdf", data: random, raw: true}),
		"deflated, sizes first":          buildZip(t, "", zipEntry{name: "r.d1.a.pdf", data: pdf, method: zip.Deflate, raw: true}),
		"empty, folder and comment": buildZip(t, "operation 7",
			zipEntry{name: "dir/", raw: true}, zipEntry{name: "dir/r.d1.a.pdf", data: nil, method: zip.Deflate},
			zipEntry{name: "r.d2.b.pdf", data: pdf[:10], raw: true}),
		"no entries": buildZip(t, ""),
	}
}

// TestStreamZip: archives of the layouts a service writes are read as a
// stream, with the entries archive/zip reads from the whole file.
func TestStreamZip(t *testing.T) {
	for name, data := range streamSamples(t) {
		t.Run(name, func(t *testing.T) {
			names, contents, err := readStream(data, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			sameAsArchiveZip(t, data, names, contents)
		})
	}
}

// TestStreamZipLayouts: archives that are not read front to back, or
// whose local headers and central directory disagree, are errZipLayout
// (the caller reads them whole with archive/zip); a cut one is zipCut.
func TestStreamZipLayouts(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.7 "), 500)
	good := buildZip(t, "", zipEntry{name: "r.d1.a.pdf", data: pdf, raw: true}, zipEntry{name: "r.d2.b.pdf", data: pdf, method: zip.Deflate})
	renamed := bytes.Clone(good)
	if i := bytes.LastIndex(renamed, []byte("r.d2.b.pdf")); i < 0 {
		t.Fatal("no central name")
	} else {
		renamed[i+3] = '9' // the central directory names r.d9.b.pdf
	}
	changed := bytes.Clone(good)
	changed[bytes.Index(changed, []byte("%PDF"))+1] = 'X' // a stored byte: the CRC-32 fails
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"an entry inflating past max":  {buildZip(t, "", zipEntry{name: "big.pdf", data: bytes.Repeat([]byte{0}, 2<<20), method: zip.Deflate}), "layout"},
		"stored, sizes after the data": {buildZip(t, "", zipEntry{name: "a.pdf", data: pdf, method: zip.Store}), "layout"},
		"data before the archive":      {append([]byte("junk"), good...), "layout"},
		"data after the archive":       {append(bytes.Clone(good), 0), "layout"},
		"central name not the local":   {renamed, "layout"},
		"content not its CRC-32":       {changed, "layout"},
		"cut in an entry":              {good[:len(good)/3], "cut"},
		"cut in the central directory": {good[:len(good)-30], "cut"},
	} {
		t.Run(name, func(t *testing.T) {
			names, _, err := readStream(c.data, 1<<20)
			var cut zipCut
			switch {
			case err == nil:
				t.Fatalf("read %v without an error", names)
			case c.want == "layout" && !errors.Is(err, errZipLayout):
				t.Fatalf("err = %v, want errZipLayout", err)
			case c.want == "cut" && !errors.As(err, &cut):
				t.Fatalf("err = %v, want zipCut", err)
			}
		})
	}
}

// FuzzStreamZip: whatever streamZip reads without an error, archive/zip
// reads from the whole file too, entry for entry, byte for byte: the
// stream never yields a document the central directory would not.
func FuzzStreamZip(f *testing.F) {
	for _, data := range streamSamples(f) {
		f.Add(data)
	}
	f.Add(buildZip(f, "", zipEntry{name: "a.pdf", data: []byte("x"), method: zip.Store}))
	f.Fuzz(func(t *testing.T, data []byte) {
		names, contents, err := readStream(data, 1<<20)
		// A source giving a byte at a time reads the same.
		names1, contents1, err1 := readStreamFrom(iotest.OneByteReader(bytes.NewReader(data)), 1<<20)
		if (err == nil) != (err1 == nil) || !slices.Equal(names, names1) || !slices.EqualFunc(contents, contents1, bytes.Equal) {
			t.Fatalf("read whole: %q, %v; a byte at a time: %q, %v", names, err, names1, err1)
		}
		if err != nil {
			return
		}
		sameAsArchiveZip(t, data, names, contents)
	})
}

// TestLimitedBody: a body of exactly the limit is read whole, as the
// spooled path takes a ZIP of exactly the limit; one byte more is refused.
func TestLimitedBody(t *testing.T) {
	data := []byte("0123456789")
	l := &limitedBody{r: bytes.NewReader(data), left: 10}
	if b, err := io.ReadAll(l); err != nil || !bytes.Equal(b, data) || l.over {
		t.Fatalf("at the limit: read %q, %v, over %v", b, err, l.over)
	}
	l = &limitedBody{r: bytes.NewReader(data), left: 9}
	if _, err := io.ReadAll(l); !errors.Is(err, errZipTooLarge) || !l.over {
		t.Fatalf("past the limit: %v, over %v", err, l.over)
	}
}
