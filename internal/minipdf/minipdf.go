// Package minipdf writes small PDF files from the text of their objects,
// for the tests, benchmarks and the fault run that need a document built
// to order: a signature field, a word at a known place, a given size.
package minipdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
)

// File returns a PDF 1.7 file (with a binary comment) holding objs as
// objects 1, 2, … in that order, then an exact classic xref table and a
// trailer whose /Root is object 1.
func File(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

// FlateStream returns a stream object holding content compressed with
// /FlateDecode.
func FlateStream(content string) string {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(content)) // a bytes.Buffer takes every write
	zw.Close()
	return fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes())
}
