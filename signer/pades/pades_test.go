package pades_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signer/cms"
	"github.com/signagent/signagent/signer/pades"
)

const corpusDir = "../../testdata/corpus"

var (
	pkiOnce sync.Once
	rsaPKI  *testpki.PKI
)

// sharedPKI is one RSA test PKI for the whole package (key generation is
// the slowest part of the tests otherwise).
func sharedPKI(t *testing.T) *testpki.PKI {
	pkiOnce.Do(func() {
		rsaPKI = testpki.New(&keepT{t}, false)
		if have(t, "pdfcpu") {
			// pdfcpu reads trusted roots from its config dir; give it one
			// of its own holding the test CA.
			pdfcpuHome = filepath.Join(rsaPKI.Dir, "xdg")
			cmd := exec.Command(toolPath("pdfcpu"), "certificates", "import", rsaPKI.CAPEM)
			cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+pdfcpuHome)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("pdfcpu certificates import: %v\n%s", err, out)
			}
		}
	})
	return rsaPKI
}

var pdfcpuHome string

// keepT lets the shared PKI's temp dir outlive the first test using it.
type keepT struct{ *testing.T }

func (k *keepT) TempDir() string {
	d, err := os.MkdirTemp("", "testpki")
	if err != nil {
		k.Fatal(err)
	}
	return d
}

func corpusPDFs(t *testing.T) []string {
	var files []string
	filepath.WalkDir(corpusDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skipf("no PDFs under %s", corpusDir)
	}
	return files
}

func have(t *testing.T, tool string) bool {
	t.Helper()
	_, err := exec.LookPath(tool)
	if err != nil {
		if p := filepath.Join(os.Getenv("HOME"), "go", "bin", tool); fileExists(p) {
			return true
		}
	}
	return err == nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func toolPath(tool string) string {
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("HOME"), "go", "bin", tool)
}

// signAndCheck signs in into a temp file and runs every verifier on it.
// wantSigs is the number of signatures expected in the output.
func signAndCheck(t *testing.T, in string, o pades.Options, wantSigs int) string {
	t.Helper()
	p := sharedPKI(t)
	out := filepath.Join(t.TempDir(), "signed.pdf")
	if err := pades.SignFile(context.Background(), in, out, p.Key, p.Chain, o); err != nil {
		t.Fatalf("SignFile(%s): %v", in, err)
	}
	checkSigned(t, in, out, wantSigs, o.Timestamper != nil)
	return out
}

func checkSigned(t *testing.T, in, out string, wantSigs int, timestamped bool) {
	t.Helper()
	orig, _ := os.ReadFile(in)
	signed, _ := os.ReadFile(out)
	if !bytes.HasPrefix(signed, orig) {
		t.Fatalf("%s: the original is not a prefix of the output", in)
	}
	sigs, err := pades.Verify(out)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(sigs) != wantSigs {
		t.Fatalf("Verify found %d signatures, want %d", len(sigs), wantSigs)
	}
	last := sigs[len(sigs)-1]
	for i, s := range sigs {
		if s.Err != nil {
			t.Errorf("signature %d: %v", i, s.Err)
		}
	}
	if last.SubFilter != "ETSI.CAdES.detached" || !last.CoversWholeDocument || last.Signer == nil ||
		last.Timestamped != timestamped || last.Time.IsZero() {
		t.Errorf("last signature = %+v", last)
	}
	pdfsigCheck(t, out, wantSigs, timestamped)
	qpdfCheck(t, out)
	pdfcpuCheck(t, out, wantSigs)
}

func pdfsigCheck(t *testing.T, out string, wantSigs int, timestamped bool) {
	t.Helper()
	if !have(t, "pdfsig") {
		t.Log("pdfsig not installed (poppler-utils); CI installs it")
		return
	}
	res, _ := exec.Command("pdfsig", out).CombinedOutput()
	s := string(res)
	if n := strings.Count(s, "Signature is Valid."); n != wantSigs {
		t.Errorf("pdfsig: %d valid signatures, want %d:\n%s", n, wantSigs, s)
	}
	if !strings.Contains(s, "Signature Type: ETSI.CAdES.detached") {
		t.Errorf("pdfsig: no ETSI.CAdES.detached signature:\n%s", s)
	}
	if n := strings.Count(s, "Total document signed"); n < 1 {
		t.Errorf("pdfsig: last signature does not cover the whole document:\n%s", s)
	}
}

func qpdfCheck(t *testing.T, out string) {
	t.Helper()
	if !have(t, "qpdf") {
		t.Log("qpdf not installed; CI installs it")
		return
	}
	res, err := exec.Command("qpdf", "--check", out).CombinedOutput()
	if err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, res)
	}
}

func pdfcpuCheck(t *testing.T, out string, wantSigs int) {
	t.Helper()
	if !have(t, "pdfcpu") {
		t.Log("pdfcpu not installed (go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0)")
		return
	}
	res, err := pdfcpu("signatures", "validate", "-a", out)
	if err != nil {
		if strings.Contains(res, "validation error") {
			// pdfcpu refuses some inputs outright (e.g. PDF 1.3 files with
			// PDF/A-3 entries); that is about the original, not our update.
			t.Logf("pdfcpu cannot read this document: %s", firstLine(res))
			return
		}
		t.Errorf("pdfcpu signatures validate: %v\n%s", err, res)
		return
	}
	// With the test CA trusted and no revocation source, pdfcpu's verdict for
	// an intact signature is "unknown" because of revocation only.
	// (or, for a signer outside the test CA, because of the path only).
	intact := strings.Count(res, "revocation status is unknown") + strings.Count(res, "signature is valid") +
		strings.Count(res, "certificate path was not resolved")
	if strings.Contains(res, "signature is invalid") || strings.Contains(res, "modified") || intact < wantSigs {
		t.Errorf("pdfcpu does not find %d intact signatures:\n%s", wantSigs, res)
	}
}

func pdfcpu(args ...string) (string, error) {
	cmd := exec.Command(toolPath("pdfcpu"), args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+pdfcpuHome)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func TestSignCorpus(t *testing.T) {
	for _, f := range corpusPDFs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			signAndCheck(t, f, pades.Options{Reason: "Invoice approved", Location: "Köln", Time: time.Now()}, existingSigs(t, f)+1)
		})
	}
}

func existingSigs(t *testing.T, f string) int {
	sigs, err := pades.Verify(f)
	if err != nil {
		t.Fatalf("Verify(%s): %v", f, err)
	}
	return len(sigs)
}

var _ = errors.Is
var _ = signagent.KindOf
var _ = cms.Options{}
