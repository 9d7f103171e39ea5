// Command bigsign writes a large PDF (one page plus a big random stream),
// signs it with pades.SignFile and prints the time taken and the peak
// resident set size (VmHWM) of the process before and after signing: the
// writer streams, so the peak should not grow with the document.
//
//	go run ./internal/bench/bigsign -mb 100
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/signagent/signagent/internal/bench/benchdata"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/pades"
)

func main() {
	mb := flag.Int("mb", 100, "size of the generated PDF in MiB")
	dir := flag.String("dir", os.TempDir(), "where to write the PDFs")
	flag.Parse()
	if err := run(*mb, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bigsign:", err)
		os.Exit(1)
	}
}

func run(mb int, dir string) error {
	in := filepath.Join(dir, fmt.Sprintf("bigsign-%dmb.pdf", mb))
	out := filepath.Join(dir, fmt.Sprintf("bigsign-%dmb-signed.pdf", mb))
	defer os.Remove(in)
	defer os.Remove(out)
	if err := writeBig(in, int64(mb)<<20); err != nil {
		return err
	}
	pki, err := testpki.Make(false)
	if err != nil {
		return err
	}
	before := benchdata.ProcKB(0, "VmHWM")
	start := time.Now()
	if err := pades.SignFile(context.Background(), in, out, pki.Key, pki.Chain, pades.Options{}); err != nil {
		return err
	}
	took := time.Since(start)
	st, err := os.Stat(in)
	if err != nil {
		return err
	}
	fmt.Printf("input %d bytes, signed in %v, VmHWM before signing %s, after %s\n",
		st.Size(), took.Round(time.Millisecond), benchdata.MB(before), benchdata.MB(benchdata.ProcKB(0, "VmHWM")))
	return nil
}

// writeBig writes a one-page PDF whose page carries an image XObject of n
// random bytes, streaming the random data.
func writeBig(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var off []int64
	pos := int64(0)
	put := func(s string) { w.WriteString(s); pos += int64(len(s)) }
	obj := func(s string) { off = append(off, pos); put(s) }
	put("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	obj("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	obj("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> >>\nendobj\n")
	side := int64(1)
	for side*side*3 < n {
		side++
	}
	length := side * side * 3
	obj(fmt.Sprintf("4 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n", side, side, length))
	if _, err := io.CopyN(w, rand.Reader, length); err != nil {
		return err
	}
	pos += length
	put("\nendstream\nendobj\n")
	xref := pos
	put(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(off)+1))
	for _, o := range off {
		put(fmt.Sprintf("%010d 00000 n \n", o))
	}
	put(fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(off)+1, xref))
	return w.Flush()
}
