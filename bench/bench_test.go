package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/signagent/signagent/bench/internal/benchpki"
	"github.com/signagent/signagent/signer/pades"
)

// corpus is the shared e-invoice corpus; override with SIGNAGENT_CORPUS is
// deliberately not offered: the benchmark figures are about this corpus.
const corpus = "../../shared/corpus"

func corpusFiles(b *testing.B) []string {
	var files []string
	filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		b.Skipf("no PDFs under %s", corpus)
	}
	// Sort by size so the median document is files[len/2].
	sort.Slice(files, func(i, j int) bool { return size(files[i]) < size(files[j]) })
	return files
}

func size(p string) int64 { st, _ := os.Stat(p); return st.Size() }

type method struct {
	name string
	sign func(b *testing.B, in, out string)
}

func methods(b *testing.B) []method {
	key, chain, err := benchpki.New()
	if err != nil {
		b.Fatal(err)
	}
	return []method{
		{"signagent", func(b *testing.B, in, out string) {
			fi, _ := os.Open(in)
			fo, _ := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
			if err := pades.Sign(context.Background(), fi, fo, key, chain, pades.Options{}); err != nil {
				b.Fatal(err)
			}
			fi.Close()
			fo.Close()
		}},
		{"cryptofloor", func(b *testing.B, in, out string) {
			fi, _ := os.Open(in)
			h := sha256.New()
			io.Copy(h, fi)
			fi.Close()
			if _, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}},
		{"pdfsign-rc1", func(b *testing.B, in, out string) {
			fi, _ := os.Open(in)
			st, _ := fi.Stat()
			rdr, err := pdf.NewReader(fi, st.Size())
			if err != nil {
				b.Fatal(err)
			}
			fo, _ := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
			err = sign.SignWithData(fi, fo, rdr, st.Size(), sign.SignData{
				Signature:         sign.SignDataSignature{CertType: sign.ApprovalSignature},
				Signer:            key,
				DigestAlgorithm:   crypto.SHA256,
				Certificate:       chain[0],
				CertificateChains: [][]*x509.Certificate{chain},
			})
			if err != nil {
				b.Fatal(err)
			}
			fi.Close()
			fo.Close()
		}},
	}
}

// BenchmarkCorpus signs every corpus PDF once per iteration and reports
// per-document figures: wall time (ns/doc) and the CPU time of the whole
// process (cpu-ns/doc, user + system), steadier on a shared machine.
func BenchmarkCorpus(b *testing.B) {
	files := corpusFiles(b)
	for _, m := range methods(b) {
		b.Run(m.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out.pdf")
			b.ReportAllocs()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				for _, f := range files {
					m.sign(b, f, out)
				}
			}
			cpu = cpuTime() - cpu
			docs := float64(b.N * len(files))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/docs, "ns/doc")
			b.ReportMetric(float64(cpu.Nanoseconds())/docs, "cpu-ns/doc")
		})
	}
}

// BenchmarkMedian signs the median-size corpus document.
func BenchmarkMedian(b *testing.B) {
	files := corpusFiles(b)
	med := files[len(files)/2]
	b.Logf("median document: %s (%d bytes)", filepath.Base(med), size(med))
	for _, m := range methods(b) {
		b.Run(m.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out.pdf")
			b.ReportAllocs()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				m.sign(b, med, out)
			}
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
