// Package signertest is the conformance suite every signing.Backend
// implementation must pass (the local signer, the Sign'Stash client).
package signertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// Config tells the suite what the backend under test can sign.
type Config struct {
	// PDF and XML are paths of valid documents to sign; empty skips that
	// format.
	PDF, XML string
	// CAdES reports that the backend signs other files as detached .p7s.
	CAdES bool
	// MaxPolls bounds Poll calls for an asynchronous backend (default 50).
	MaxPolls int
}

// Conformance runs the suite against b. Outputs are checked with
// signer.VerifyFile (integrity, not trust).
func Conformance(t *testing.T, b signing.Backend, c Config) {
	t.Helper()
	if c.MaxPolls == 0 {
		c.MaxPolls = 50
	}
	t.Run("MixedBatch", func(t *testing.T) { mixedBatch(t, b, c) })
	t.Run("LookupUnknown", func(t *testing.T) {
		op, err := b.Lookup(context.Background(), &signing.Batch{Ref: "signertest-never-submitted-" + time.Now().Format("150405.000000000")})
		if err != nil && !errors.Is(err, signing.ErrNotFound) {
			t.Errorf("Lookup of an unknown reference = %v, want ErrNotFound", err)
		}
		if err == nil && op == nil {
			t.Error("Lookup returned neither an operation nor an error")
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		dir := t.TempDir()
		in := filepath.Join(dir, "a.txt")
		os.WriteFile(in, []byte("text"), 0o600)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.Submit(ctx, &signing.Batch{Ref: "signertest-cancelled", Docs: []signing.Doc{{
			Ref: "a", Name: "a.txt", Path: in, Size: 4, Out: filepath.Join(dir, "a.txt.p7s"), Opts: signing.Options{Type: signing.TypeAuto}}}})
		if err == nil {
			t.Error("Submit on a cancelled context succeeded")
		}
	})
}

func mixedBatch(t *testing.T, b signing.Backend, c Config) {
	in, out := t.TempDir(), t.TempDir()
	var docs []doc
	if c.PDF != "" {
		docs = append(docs, doc{name: "invoice one.pdf", src: c.PDF})
	}
	if c.XML != "" {
		docs = append(docs, doc{name: "invoice.xml", src: c.XML})
	}
	if c.CAdES {
		docs = append(docs, doc{name: "notes.txt", data: []byte("signed notes\n")})
	}
	docs = append(docs, doc{name: "empty.pdf", data: []byte{}, fails: signagent.CodeEmptyFile})
	batch := &signing.Batch{Ref: "signertest-" + time.Now().Format("150405.000000000")}
	for i, d := range docs {
		path := filepath.Join(in, d.name)
		data := d.data
		if d.src != "" {
			var err error
			if data, err = os.ReadFile(d.src); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		typ := signing.TypeAuto.Resolve(d.name)
		batch.Docs = append(batch.Docs, signing.Doc{Ref: batch.Ref + "-" + string(rune('a'+i)), Name: d.name, Path: path,
			Size: int64(len(data)), Out: filepath.Join(out, signing.OutputName(d.name, typ)),
			Opts: signing.Options{Type: signing.TypeAuto, Reason: "conformance", Location: "test"}})
	}
	ctx := context.Background()
	op, err := b.Submit(ctx, batch)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	for polls := 0; !op.Done; polls++ {
		if polls == c.MaxPolls {
			t.Fatalf("operation not done after %d polls", polls)
		}
		wait := op.PollAfter
		if wait <= 0 || wait > time.Second {
			wait = 50 * time.Millisecond
		}
		time.Sleep(wait)
		if op, err = b.Poll(ctx, batch, op); err != nil {
			t.Fatalf("Poll: %v", err)
		}
	}
	if len(op.Results) != len(batch.Docs) {
		t.Fatalf("%d results for %d documents", len(op.Results), len(batch.Docs))
	}
	for i, d := range batch.Docs {
		r := op.Results[i]
		if r.Ref != d.Ref {
			t.Errorf("result %d is for %q, want %q (results must be in batch order)", i, r.Ref, d.Ref)
			continue
		}
		if docs[i].fails != "" {
			if signagent.KindOf(r.Err) != signagent.KindDocument || signagent.CodeOf(r.Err) != docs[i].fails {
				t.Errorf("%s: err = %v, want %s document error", d.Name, r.Err, docs[i].fails)
			}
			if _, err := os.Stat(d.Out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s failed but left a file at Out", d.Name)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("%s: %v", d.Name, r.Err)
			continue
		}
		if orig, _ := os.ReadFile(d.Path); string(orig) != string(mustRead(t, docs[i])) {
			t.Errorf("%s: the backend changed the original", d.Name)
		}
		check := d.Out
		if strings.HasSuffix(d.Out, ".p7s") {
			// A detached signature is checked beside its content.
			os.WriteFile(strings.TrimSuffix(d.Out, ".p7s"), mustRead(t, docs[i]), 0o600)
		}
		vs, err := signer.VerifyFile(ctx, check)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%s: VerifyFile = %+v, %v", d.Name, vs, err)
		}
	}
}

// doc is one document of the mixed batch: its bytes come from src or data;
// fails is the code it must fail with, empty when it must be signed.
type doc struct {
	name, src string
	data      []byte
	fails     signagent.Code
}

func mustRead(t *testing.T, d doc) []byte {
	if d.src == "" {
		return d.data
	}
	b, err := os.ReadFile(d.src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
