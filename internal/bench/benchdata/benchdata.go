// Package benchdata prepares benchmark workloads and reads figures: corpus
// PDFs made unique, a tiny generated PDF, percentiles, and peak RSS from
// /proc.
package benchdata

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/signagent/signagent/internal/cputime"
	"github.com/signagent/signagent/internal/minipdf"
)

// CorpusPDFs returns the PDFs under dir of at most maxSize bytes (0: any
// size), sorted by name so runs use the same files in the same order.
func CorpusPDFs(dir string, maxSize int64) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".pdf") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if maxSize <= 0 || fi.Size() <= maxSize {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no PDF under %s (of at most %d bytes)", dir, maxSize)
	}
	sort.Strings(files)
	return files, nil
}

// Unique returns pdf with a trailing comment carrying tag, so copies of one
// document differ in content (and digest) and still parse: readers find
// startxref in the last kilobyte and skip comments.
func Unique(pdf []byte, tag string) []byte {
	out := make([]byte, 0, len(pdf)+len(tag)+32)
	out = append(out, pdf...)
	if len(out) > 0 && out[len(out)-1] != '\n' && out[len(out)-1] != '\r' {
		out = append(out, '\n')
	}
	return append(out, "%signagent-bench "+tag+"\n"...)
}

// Prepare writes n unique documents into dir, cycling through the sources:
// name "doc-000001.pdf" and so on. It returns the paths and their total size.
func Prepare(dir string, sources []string, n int) ([]string, int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	datas := make([][]byte, len(sources))
	for i, s := range sources {
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, 0, err
		}
		datas[i] = b
	}
	paths := make([]string, n)
	var total int64
	for i := range n {
		b := Unique(datas[i%len(datas)], strconv.Itoa(i))
		p := filepath.Join(dir, fmt.Sprintf("doc-%06d.pdf", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, 0, err
		}
		paths[i] = p
		total += int64(len(b))
	}
	return paths, total, nil
}

// TinyPDF returns a valid one-page PDF of about size bytes (at least ~600):
// a text content stream padded with comment lines, with an exact xref table.
func TinyPDF(size int) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 12 Tf 72 720 Td (signagent backlog benchmark) Tj ET\n")
	for content.Len() < size-600 {
		content.WriteString("% padding padding padding padding padding padding padding padding\n")
	}
	return onePage(content.Bytes())
}

// OpaquePDF returns a valid one-page PDF of about size bytes that does not
// compress: most of it is an unreferenced stream of pseudo-random bytes,
// as the compressed streams of a real invoice are. The bytes are the same
// for the same size.
func OpaquePDF(size int) []byte {
	data := make([]byte, max(size-800, 0))
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size))
	rand.NewChaCha8(seed).Read(data)
	return onePage([]byte("BT /F1 12 Tf 72 720 Td (signagent opaque benchmark) Tj ET\n"),
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(data), data))
}

// onePage is a PDF of one page whose content stream is content, followed
// by the objects extra (numbered from 6).
func onePage(content []byte, extra ...string) []byte {
	return minipdf.File(append([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}, extra...)...)
}

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of d,
// which it sorts. Zero for no samples.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	k := int(float64(len(d))*p/100+0.999999) - 1
	return d[min(max(k, 0), len(d)-1)]
}

// ProcKB returns a "kB" field of /proc/<pid>/status (pid 0: self), such as
// "VmHWM" (peak RSS) or "VmRSS", in kilobytes; -1 when unavailable (not
// Linux, or the process is gone).
func ProcKB(pid int, field string) int64 {
	who := "self"
	if pid > 0 {
		who = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + who + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// CPUTime is cputime.Process: the user and system CPU time used so far by
// this process (zero where the platform does not report it).
func CPUTime() time.Duration { return cputime.Process() }

// MB formats kilobytes as "12.3 MB" (MiB, as the kernel counts).
func MB(kb int64) string {
	if kb < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)/1024)
}
