package pades_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent/signer/pades"
)

// TestVerifyDigests: the digests VerifyDigests takes while it verifies are
// those of the file's bytes, for every prefix length (inside the first
// signed range, between two signatures, inside a /Contents gap, the whole
// file, beyond it), read from memory or piece by piece. Not in parallel:
// the second pass changes the in-memory limit.
func TestVerifyDigests(t *testing.T) {
	p := sharedPKI(t)
	in := corpusPDFs(t)[0]
	dir := t.TempDir()
	once, twice := filepath.Join(dir, "once.pdf"), filepath.Join(dir, "twice.pdf")
	if err := pades.SignFile(context.Background(), in, once, p.Key, p.Chain, pades.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := pades.SignFile(context.Background(), once, twice, p.Key, p.Chain, pades.Options{}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(in)
	first, _ := os.ReadFile(once)
	data, err := os.ReadFile(twice)
	if err != nil {
		t.Fatal(err)
	}
	gap := int64(bytes.LastIndex(first, []byte("/Contents <"))) + 20 // inside the first signature's value
	lens := map[string]int64{"zero": 0, "original": int64(len(orig)), "in a gap": gap,
		"first revision": int64(len(first)), "whole": int64(len(data)), "beyond": int64(len(data)) + 1}
	whole := sha256.Sum256(data)
	for _, path := range []string{"memory", "pieces"} {
		if path == "pieces" {
			defer pades.SetMemMax(0)()
		}
		for name, n := range lens {
			sigs, dg, err := pades.VerifyDigests(twice, n)
			if err != nil || len(sigs) != 2 || sigs[0].Err != nil || sigs[1].Err != nil || !sigs[1].CoversWholeDocument {
				t.Fatalf("%s, %s: VerifyDigests = %+v, %v", path, name, sigs, err)
			}
			if !bytes.Equal(dg.File, whole[:]) {
				t.Errorf("%s, %s: File digest %x, want %x", path, name, dg.File, whole)
			}
			if n > int64(len(data)) {
				if dg.Prefix != nil {
					t.Errorf("%s, %s: Prefix digest %x for a prefix longer than the file", path, name, dg.Prefix)
				}
				continue
			}
			if want := sha256.Sum256(data[:n]); !bytes.Equal(dg.Prefix, want[:]) {
				t.Errorf("%s, %s: Prefix digest %x, want %x", path, name, dg.Prefix, want)
			}
		}
	}
	// A changed byte in the signed range: the signature fails, and the
	// digests are still the file's.
	data[len(orig)/2] ^= 1
	bad := filepath.Join(dir, "bad.pdf")
	os.WriteFile(bad, data, 0o600)
	sigs, dg, err := pades.VerifyDigests(bad, int64(len(orig)))
	if err != nil || sigs[1].Err == nil {
		t.Fatalf("a changed byte: %+v, %v; want the last signature to fail", sigs, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(dg.File, want[:]) {
		t.Errorf("changed file: File digest %x, want %x", dg.File, want)
	}
}
