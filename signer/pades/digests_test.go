package pades_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent/signer/pades"
	"github.com/signagent/signagent/signing"
)

// TestVerifyDigests: the digests VerifyDigests takes while it verifies are
// those of the file's bytes, for every prefix length (inside the first
// signed range, between two signatures, inside a /Contents gap, the whole
// file, beyond it), read from memory or piece by piece. Not in parallel:
// the second pass changes the in-memory limit.
func TestVerifyDigests(t *testing.T) {
	in, once, twice := signTwice(t, nil)
	dir := filepath.Dir(twice)
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

// TestVerifyTaken: the digests Sign takes of its output on the way are the
// file's (original, whole file, signed ranges), and VerifyTaken, which
// checks the output against them, still refuses what VerifyDigests
// refuses: a signature value changed on disk, a file cut or grown, a
// digest that is not the one signed. Signatures the original carried are
// verified from the file, in memory or piece by piece.
func TestVerifyTaken(t *testing.T) {
	var w signing.Written
	_, once, twice := signTwice(t, &w)
	dir := filepath.Dir(twice)
	first, _ := os.ReadFile(once)
	data, err := os.ReadFile(twice)
	if err != nil {
		t.Fatal(err)
	}
	whole, prefix := sha256.Sum256(data), sha256.Sum256(first)
	if !bytes.Equal(w.File, whole[:]) || w.Size != int64(len(data)) {
		t.Fatalf("taken: File %x of %d bytes, want %x of %d", w.File, w.Size, whole, len(data))
	}
	if !bytes.Equal(w.Prefix, prefix[:]) || w.PrefixLen != int64(len(first)) {
		t.Fatalf("taken: Prefix %x of %d bytes, want %x of %d", w.Prefix, w.PrefixLen, prefix, len(first))
	}
	br := w.ByteRange
	signed := sha256.New()
	signed.Write(data[:br[1]])
	signed.Write(data[br[2] : br[2]+br[3]])
	if !bytes.Equal(w.Signed, signed.Sum(nil)) || br[0] != 0 || br[2]+br[3] != int64(len(data)) {
		t.Fatalf("taken: ByteRange %v and Signed %x are not the file's", br, w.Signed)
	}
	for _, path := range []string{"memory", "pieces"} {
		if path == "pieces" {
			defer pades.SetMemMax(0)()
		}
		sigs, dg, err := pades.VerifyTaken(twice, &w)
		if err != nil || len(sigs) != 2 || sigs[0].Err != nil || sigs[1].Err != nil || !sigs[1].CoversWholeDocument {
			t.Fatalf("%s: VerifyTaken = %+v, %v", path, sigs, err)
		}
		if !bytes.Equal(dg.File, whole[:]) || !bytes.Equal(dg.Prefix, prefix[:]) {
			t.Fatalf("%s: digests %x, %x; want the file's", path, dg.File, dg.Prefix)
		}
	}

	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	// A digit of the new signature's value changed on disk.
	gapped := bytes.Clone(data)
	gapped[br[1]+41] ^= 0x01 // '0'..'9' and 'A'..'F' stay hex digits
	if sigs, _, err := pades.VerifyTaken(write("gap.pdf", gapped), &w); err == nil && sigs[len(sigs)-1].Err == nil {
		t.Errorf("a changed signature value verified: %+v", sigs)
	}
	// A digest that is not the one signed.
	forged := w
	forged.Signed = bytes.Clone(w.Signed)
	forged.Signed[0] ^= 1
	if sigs, _, err := pades.VerifyTaken(twice, &forged); err == nil && sigs[len(sigs)-1].Err == nil {
		t.Errorf("a digest that was not signed verified: %+v", sigs)
	}
	// Grown or cut.
	for name, b := range map[string][]byte{"grown.pdf": append(bytes.Clone(data), '\n'), "cut.pdf": data[:len(data)-1]} {
		if _, _, err := pades.VerifyTaken(write(name, b), &w); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Digests that do not name this signature's ranges are not used: the
	// ranges are hashed from the file, and a changed byte in them is found.
	moved := w
	moved.ByteRange[3]--
	changed := bytes.Clone(data)
	changed[len(first)/2] ^= 1
	sigs, _, err := pades.VerifyTaken(write("changed.pdf", changed), &moved)
	if err != nil || len(sigs) != 2 || sigs[1].Err == nil {
		t.Errorf("a changed byte with digests of other ranges: %+v, %v; want the new signature to fail", sigs, err)
	}
	// Nor are the file digests that come with them: what is returned is
	// the file's, whatever those digests say.
	moved.Prefix, moved.File = make([]byte, sha256.Size), make([]byte, sha256.Size)
	sigs, dg, err := pades.VerifyTaken(twice, &moved)
	if err != nil || len(sigs) != 2 || sigs[1].Err != nil {
		t.Fatalf("digests of other ranges: %+v, %v; want the file's signatures verified from the file", sigs, err)
	}
	if !bytes.Equal(dg.File, whole[:]) || !bytes.Equal(dg.Prefix, prefix[:]) {
		t.Errorf("digests of other ranges: returned %x, %x; want the file's %x, %x", dg.File, dg.Prefix, whole, prefix)
	}
	if _, _, err := pades.VerifyTaken(twice, &signing.Written{}); err == nil {
		t.Error("VerifyTaken accepted empty digests")
	}
}

// signTwice signs a corpus PDF into once.pdf and that into twice.pdf, the
// second time taking the digests into taken when it is not nil.
func signTwice(t *testing.T, taken *signing.Written) (in, once, twice string) {
	p := sharedPKI(t)
	in = corpusPDFs(t)[0]
	dir := t.TempDir()
	once, twice = filepath.Join(dir, "once.pdf"), filepath.Join(dir, "twice.pdf")
	if err := pades.SignFile(context.Background(), in, once, p.Key, p.Chain, pades.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := pades.SignFile(context.Background(), once, twice, p.Key, p.Chain, pades.Options{Taken: taken}); err != nil {
		t.Fatal(err)
	}
	return in, once, twice
}
