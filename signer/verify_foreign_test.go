package signer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// foreignSamples finds the PAdES samples shipped in pdfcpu's module (CI
// installs pdfcpu with `go install`, which puts its source in the module
// cache): signatures made by other software, including B-LT validation data
// and a B-LTA document timestamp.
func foreignSamples(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "pdfcpu", "pdfcpu@v0.15.0", "pkg", "samples", "signatures")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("pdfcpu v0.15.0 samples not in the module cache (go install github.com/pdfcpu/pdfcpu/cmd/pdfcpu@v0.15.0): %v", err)
	}
	return dir
}

func TestVerifyOthersSignatures(t *testing.T) {
	dir := foreignSamples(t)
	for _, c := range []struct {
		file       string
		sigs       int
		docStamp   bool // the last is a document timestamp
		timestamps bool
	}{
		{"ETSI.CAdES.detached/testPAdES_BB.pdf", 1, false, false},
		{"ETSI.CAdES.detached/testPAdES_BT.pdf", 1, false, true},
		{"ETSI.CAdES.detached/testPAdES_BLT.pdf", 1, false, true},
		{"ETSI.CAdES.detached/testPAdES_BLTA.pdf", 2, true, true},
		{"adbe.pkcs7.detached/sample1.pdf", 1, false, true},
	} {
		t.Run(c.file, func(t *testing.T) {
			vs, err := VerifyFile(context.Background(), filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != c.sigs {
				t.Fatalf("%d signatures, want %d", len(vs), c.sigs)
			}
			for _, v := range vs {
				if !v.Valid || v.Signer == "" {
					t.Errorf("signature %d: valid=%v signer=%q: %v %s", v.Index+1, v.Valid, v.Signer, v.Err, v.Detail)
				}
				if c.timestamps && !v.Timestamped {
					t.Errorf("signature %d: timestamp not seen", v.Index+1)
				}
			}
			if last := vs[len(vs)-1]; c.docStamp != strings.Contains(last.Detail, "document timestamp") {
				t.Errorf("document timestamp: %q", last.Detail)
			}

			// One flipped byte inside the first signed range invalidates
			// every signature and timestamp.
			b, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			b[len("%PDF-1.7\n")+20] ^= 0x01
			tampered := filepath.Join(t.TempDir(), "tampered.pdf")
			os.WriteFile(tampered, b, 0o644)
			vs, err = VerifyFile(context.Background(), tampered)
			if err != nil {
				return // unreadable after the flip is also a failure to verify
			}
			for _, v := range vs {
				if v.Valid {
					t.Errorf("tampered: signature %d still valid", v.Index+1)
				}
			}
		})
	}
}
