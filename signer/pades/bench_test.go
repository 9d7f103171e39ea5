package pades_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/signagent/signagent/internal/cputime"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/pades"
)

// BenchmarkSign signs the median-size corpus PDF; BenchmarkCryptoFloor is
// the unavoidable work on the same file: SHA-256 over it and one RSA-2048
// signature. Peers are compared in the separate bench module.
//
// The output file is opened once and signed into again and again: Sign
// rewrites it from its start, so what is measured is signing, not the
// filesystem's handling of a truncation to zero.
func BenchmarkSign(b *testing.B) {
	p, med := benchSetup(b)
	fo, err := os.OpenFile(filepath.Join(b.TempDir(), "out.pdf"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer fo.Close()
	b.ReportAllocs()
	cpu := cputime.Process()
	defer func() { b.ReportMetric(float64((cputime.Process()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i++ {
		fi, err := os.Open(med)
		if err != nil {
			b.Fatal(err)
		}
		if err := pades.Sign(context.Background(), fi, fo, p.Key, p.Chain, pades.Options{}); err != nil {
			b.Fatal(err)
		}
		fi.Close()
	}
}

func BenchmarkCryptoFloor(b *testing.B) {
	p, med := benchSetup(b)
	b.ReportAllocs()
	cpu := cputime.Process()
	defer func() { b.ReportMetric(float64((cputime.Process()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for i := 0; i < b.N; i++ {
		fi, _ := os.Open(med)
		h := sha256.New()
		io.Copy(h, fi)
		fi.Close()
		if _, err := p.Key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSetup(b *testing.B) (*testpki.PKI, string) {
	var files []string
	filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".pdf" {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		b.Skip("no corpus")
	}
	sz := func(p string) int64 { st, _ := os.Stat(p); return st.Size() }
	sort.Slice(files, func(i, j int) bool { return sz(files[i]) < sz(files[j]) })
	return testpki.New(b, false), files[len(files)/2]
}
