package signstash_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/sim"
)

// The emulator signs with the project's local signer and a development
// certificate, created once for the test binary.
var (
	localOnce sync.Once
	local     *signer.Local
	localErr  error
	localDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if localDir != "" {
		os.RemoveAll(localDir)
	}
	os.Exit(code)
}

func testSign(ctx context.Context, in, out, name string, t signing.Type, o signing.Options) error {
	localOnce.Do(func() {
		if localDir, localErr = os.MkdirTemp("", "signstash-test-"); localErr != nil {
			return
		}
		local, localErr = signer.NewLocal(signer.LocalConfig{Name: "sim", Certificate: "dev", DataDir: localDir, Workers: 1,
			Logger: slog.New(slog.DiscardHandler)})
	})
	if localErr != nil {
		return localErr
	}
	o.Type = t
	_, err := local.SignFile(ctx, in, out, name, o)
	return err
}

var _ sim.SignFunc = testSign

// verifySigned checks d.Out is a signed version of d.Path: an incremental
// update of the PDF that pdfsig (when installed) calls valid, or an XML
// document carrying a signature.
func verifySigned(t *testing.T, d signing.Doc) {
	t.Helper()
	in, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(d.Out)
	if err != nil {
		t.Fatalf("%s: %v", d.Ref, err)
	}
	switch strings.ToLower(filepath.Ext(d.Name)) {
	case ".pdf":
		if !bytes.HasPrefix(out, in) || len(out) <= len(in) {
			t.Fatalf("%s: output is not an incremental update of the input (%d -> %d bytes)", d.Ref, len(in), len(out))
		}
		pdfsig(t, d.Out)
	case ".xml":
		if !bytes.Contains(out, []byte("SignatureValue")) {
			t.Fatalf("%s: no XML signature in the output", d.Ref)
		}
	}
}

var pdfsigChecked sync.Map

// pdfsig runs poppler's pdfsig on a few outputs (it is slow) and expects a
// valid signature.
func pdfsig(t *testing.T, path string) {
	t.Helper()
	bin, err := exec.LookPath("pdfsig")
	if err != nil {
		if _, loaded := pdfsigChecked.LoadOrStore("skip-note", true); !loaded {
			t.Log("pdfsig not installed (apt-get install poppler-utils): signatures checked structurally only")
		}
		return
	}
	n, _ := pdfsigChecked.LoadOrStore(t.Name(), new(int))
	if *n.(*int) >= 3 {
		return
	}
	*n.(*int)++
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid.") {
		t.Fatalf("pdfsig %s: %v\n%s", path, err, out)
	}
}

var _ = fmt.Sprint
