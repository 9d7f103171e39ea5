package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"github.com/signagent/signagent/internal/cputime"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/pades"
)

// corpus is the shared e-invoice corpus; override with SIGNAGENT_CORPUS is
// deliberately not offered: the benchmark figures are about this corpus.
const corpus = "../testdata/corpus"

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

// timeOutput puts opening (truncating) and closing the output file inside
// the timed region. By default they are left out: the output file belongs
// to the caller of a signer, and reopening one path with O_TRUNC in a tight
// loop mostly measures the filesystem (on ext4 the truncation waits for the
// writeback that the previous close started).
var timeOutput = flag.Bool("timeoutput", false, "also time opening (with O_TRUNC) and closing the output file")

type method struct {
	name string
	// sign signs in into out (nil for the crypto floor, which writes nothing).
	sign    func(b *testing.B, in string, out *os.File)
	outputs bool
}

func methods(b *testing.B) []method {
	pki := testpki.New(b, false)
	key, chain := pki.Key, pki.Chain
	return []method{
		{"signagent", func(b *testing.B, in string, fo *os.File) {
			fi, err := os.Open(in)
			if err != nil {
				b.Fatal(err)
			}
			defer fi.Close()
			if err := pades.Sign(context.Background(), fi, fo, key, chain, pades.Options{}); err != nil {
				b.Fatal(err)
			}
		}, true},
		{"cryptofloor", func(b *testing.B, in string, _ *os.File) {
			fi, err := os.Open(in)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, fi)
			fi.Close()
			if _, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}, false},
		{"pdfsign-rc1", func(b *testing.B, in string, fo *os.File) {
			fi, err := os.Open(in)
			if err != nil {
				b.Fatal(err)
			}
			defer fi.Close()
			st, _ := fi.Stat()
			rdr, err := pdf.NewReader(fi, st.Size())
			if err != nil {
				b.Fatal(err)
			}
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
		}, true},
	}
}

// signOnce signs in with m into the file out, adding the CPU time of the
// timed part to *cpu.
func signOnce(b *testing.B, m method, in, out string, cpu *time.Duration) {
	var fo *os.File
	if m.outputs {
		if !*timeOutput {
			b.StopTimer()
		}
		c := cputime.Process()
		var err error
		if fo, err = os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			b.Fatal(err)
		}
		if *timeOutput {
			*cpu += cputime.Process() - c
		} else {
			b.StartTimer()
		}
	}
	c := cputime.Process()
	m.sign(b, in, fo)
	*cpu += cputime.Process() - c
	if fo != nil {
		if !*timeOutput {
			b.StopTimer()
		}
		c := cputime.Process()
		if err := fo.Close(); err != nil {
			b.Fatal(err)
		}
		if *timeOutput {
			*cpu += cputime.Process() - c
		} else {
			b.StartTimer()
		}
	}
}

// BenchmarkCorpus signs every corpus PDF once per iteration and reports
// per-document figures: wall time (ns/doc) and the CPU time of the process
// (cpu-ns/doc, user + system, all threads), steadier on a shared machine.
func BenchmarkCorpus(b *testing.B) {
	files := corpusFiles(b)
	for _, m := range methods(b) {
		b.Run(m.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out.pdf")
			b.ReportAllocs()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				for _, f := range files {
					signOnce(b, m, f, out, &cpu)
				}
			}
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
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				signOnce(b, m, med, out, &cpu)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
