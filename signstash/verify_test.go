package signstash_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signstash/sim"
)

// testSign is the emulator's signer in these tests.
var testSign sim.SignFunc = sim.MarkerSign

// verifySigned checks d.Out is a signed version of d.Path.
func verifySigned(t *testing.T, d signer.Doc) {
	t.Helper()
	in, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(d.Out)
	if err != nil {
		t.Fatalf("%s: %v", d.Ref, err)
	}
	if !bytes.HasPrefix(out, in) || len(out) <= len(in) {
		t.Fatalf("%s: output is not the input plus a signature (%d -> %d bytes)", d.Ref, len(in), len(out))
	}
}

var _ = context.Background
