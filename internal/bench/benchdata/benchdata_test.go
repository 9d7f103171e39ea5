package benchdata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/pdf"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

const corpus = "../../../testdata/corpus"

// TestTinyPDF: the generated PDF has about the asked size, parses, and
// signs into a valid signature once made unique.
func TestTinyPDF(t *testing.T) {
	for _, size := range []int{600, 3000, 5000} {
		b := TinyPDF(size)
		if len(b) < size-100 || len(b) > size+100 {
			t.Errorf("TinyPDF(%d) has %d bytes", size, len(b))
		}
		r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("TinyPDF(%d) does not parse: %v", size, err)
		}
		if n := r.NumPage(); n != 1 {
			t.Errorf("TinyPDF(%d) has %d pages", size, n)
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "tiny.pdf")
	if err := os.WriteFile(in, Unique(TinyPDF(3000), "7"), 0o600); err != nil {
		t.Fatal(err)
	}
	if qpdf, err := exec.LookPath("qpdf"); err == nil {
		if out, err := exec.Command(qpdf, "--check", in).CombinedOutput(); err != nil {
			t.Errorf("qpdf --check: %v\n%s", err, out)
		}
	}
	signAndVerify(t, in)
}

// TestUnique: copies differ in digest, keep the original as a prefix, and
// a corpus PDF made unique still signs.
func TestUnique(t *testing.T) {
	src := TinyPDF(1000)
	a, b := Unique(src, "1"), Unique(src, "2")
	if sha256.Sum256(a) == sha256.Sum256(b) {
		t.Fatal("two unique copies have the same digest")
	}
	if !bytes.HasPrefix(a, src) {
		t.Fatal("the copy does not start with the original")
	}
	if c := Unique([]byte("%%EOF"), "x"); string(c) != "%%EOF\n%signagent-bench x\n" {
		t.Fatalf("no newline added before the comment: %q", c)
	}
	files, err := CorpusPDFs(corpus, 400_000)
	if err != nil {
		t.Skipf("no corpus: %v", err)
	}
	paths, total, err := Prepare(t.TempDir(), files[:2], 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || total <= 0 {
		t.Fatalf("Prepare: %d paths, %d bytes", len(paths), total)
	}
	signAndVerify(t, paths[2])
}

func signAndVerify(t *testing.T, in string) {
	t.Helper()
	local, err := signer.NewLocal(signer.LocalConfig{Name: "t", Certificate: "dev", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "signed.pdf")
	if _, err := local.SignFile(context.Background(), in, out, "doc.pdf", signing.Options{}); err != nil {
		t.Fatalf("sign %s: %v", in, err)
	}
	vs, err := signer.VerifyFile(context.Background(), out)
	if err != nil || len(vs) != 1 || !vs[0].Valid {
		t.Fatalf("verify: %v %+v", err, vs)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("Percentile of nothing is not 0")
	}
}

func TestProcKB(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if kb := ProcKB(0, "VmHWM"); kb <= 0 {
		t.Fatalf("VmHWM = %d", kb)
	}
	if kb := ProcKB(0, "NoSuchField"); kb != -1 {
		t.Fatalf("missing field = %d, want -1", kb)
	}
	if MB(2048) != "2.0 MB" || MB(-1) != "n/a" {
		t.Fatalf("MB: %q %q", MB(2048), MB(-1))
	}
}
