package signer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signagent/signagent/internal/testpki"
	"github.com/signagent/signagent/signing"
)

// TestOutputsFlushedBySignFileNotBySubmit: SignFile hands back an output
// on disk, of every type; a batch's outputs are left for the agent, which
// flushes them many at a time (a flush per document, in the signing
// workers, made every worker wait on the disk). Not in parallel: it
// replaces syncOutput.
func TestOutputsFlushedBySignFileNotBySubmit(t *testing.T) {
	var mu sync.Mutex
	flushed := map[string]int{}
	old := syncOutput
	syncOutput = func(f *os.File) error {
		mu.Lock()
		flushed[filepath.Base(f.Name())]++
		mu.Unlock()
		return old(f)
	}
	defer func() { syncOutput = old }()

	l := newLocal(t, testpki.New(t, false), "")
	in, out := t.TempDir(), t.TempDir()
	docs := map[string]string{
		"a.pdf": copyFile(t, corpusFile(t, "ZUGFeRDv1/correct/Intarsys/ZUGFeRD_1p0_BASIC_Einfach.pdf"), filepath.Join(in, "a.pdf")),
		"b.xml": copyFile(t, corpusFile(t, "XML-Rechnung/UBL/XRECHNUNG_Einfach.ubl.xml"), filepath.Join(in, "b.xml")),
		"c.txt": writeFile(t, filepath.Join(in, "c.txt"), []byte("payment terms: 30 days\n"), 0o600),
	}
	for name, path := range docs {
		if _, err := l.SignFile(context.Background(), path, filepath.Join(out, "single-"+name), name, signing.Options{}); err != nil {
			t.Fatalf("SignFile %s: %v", name, err)
		}
		if n := flushed["single-"+name]; n != 1 {
			t.Errorf("SignFile %s: output flushed %d times, want once", name, n)
		}
	}
	b := &signing.Batch{Ref: "b1"}
	for name, path := range docs {
		b.Docs = append(b.Docs, signing.Doc{Ref: name, Name: name, Path: path, Out: filepath.Join(out, "batch-"+name)})
	}
	op, err := l.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range op.Results {
		if r.Err != nil {
			t.Fatalf("Submit %s: %v", r.Ref, r.Err)
		}
	}
	for name := range docs {
		if n := flushed["batch-"+name]; n != 0 {
			t.Errorf("Submit %s: output flushed %d times, want none (the agent flushes a batch's outputs)", name, n)
		}
		if _, err := os.Stat(filepath.Join(out, "batch-"+name)); err != nil {
			t.Errorf("Submit %s: %v", name, err)
		}
	}
}
