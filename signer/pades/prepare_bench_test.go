package pades

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/internal/cputime"
)

// BenchmarkPrepare is the part of signing that is neither I/O of the whole
// document nor cryptography: reading the cross-reference chain and the few
// objects the update needs, and building the update, for every corpus PDF.
func BenchmarkPrepare(b *testing.B) {
	var files []*os.File
	filepath.WalkDir("../../testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".pdf") {
			if f, err := os.Open(p); err == nil {
				files = append(files, f)
			}
		}
		return nil
	})
	if len(files) == 0 {
		b.Skip("no corpus")
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	signer := &x509.Certificate{Subject: pkix.Name{CommonName: "Bench"}}
	o := Options{Time: time.Now()}
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		for _, f := range files {
			st, _ := f.Stat()
			d, err := open(f, st.Size())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := buildUpdate(d, signer, o, 8192); err != nil {
				b.Fatal(err)
			}
		}
	}
	docs := float64(b.N * len(files))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/docs, "ns/doc")
	b.ReportMetric(float64((cputime.Process()-cpu).Nanoseconds())/docs, "cpu-ns/doc")
}
