package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/bench/benchdata"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// floorFigures are the CPU times per document of the steps the design
// makes the agent add to the bare signer, whatever its watcher, logging or
// scheduling: the integrity issue's promises (the original hashed when it is claimed, so
// that a duplicate is never signed and a file changed after its claim is
// never published under the old digest; every output verified before it is
// published), the three moves of DESIGN §4 (claim, publish, archive) and
// the ledger's record of each document's states (DESIGN §3), written as
// the agent writes them: a transaction per step of a batch of 50.
type floorFigures struct {
	hash, check, moves, ledger float64 // ms per document
}

func (f floorFigures) total() float64 { return f.hash + f.check + f.moves + f.ledger }

// floor measures floorFigures over paths, one document at a time in this
// process, as the agent does them: the claim's hash through a 256 KiB
// buffer, signer.CheckOutput of the local signer's PDF against the digests
// it took while signing (the agent's cheapest check), three renames, and
// the ledger's transactions on a new ledger. The signing itself is not
// counted. Its files are removed on return.
func floor(local *signer.Local, paths []string, dir string) (floorFigures, error) {
	var fig floorFigures
	defer os.RemoveAll(dir)
	for _, d := range []string{"out", "a", "b", "c"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fig, err
		}
	}
	n := len(paths)
	sums, sizes := make([]string, n), make([]int64, n)
	buf := make([]byte, 256<<10)
	cpu0 := benchdata.CPUTime()
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fig, err
		}
		h := sha256.New()
		sizes[i], err = io.CopyBuffer(h, struct{ io.Reader }{f}, buf)
		f.Close()
		if err != nil {
			return fig, err
		}
		sums[i] = hex.EncodeToString(h.Sum(nil))
	}
	fig.hash = perDoc(benchdata.CPUTime()-cpu0, n)

	// Sign, untimed, in batches as the agent does, for the digests the
	// check uses.
	outs := make([]string, n)
	written := make([]*signing.Written, n)
	for start := 0; start < n; start += 50 {
		b := &signing.Batch{Ref: fmt.Sprintf("floor-%d", start)}
		for i := start; i < min(n, start+50); i++ {
			outs[i] = filepath.Join(dir, "out", fmt.Sprintf("%06d.pdf", i))
			b.Docs = append(b.Docs, signing.Doc{Ref: fmt.Sprint(i), Name: filepath.Base(paths[i]), Path: paths[i],
				Size: sizes[i], Out: outs[i], Opts: folderOpts()})
		}
		op, err := local.Submit(context.Background(), b)
		if err != nil {
			return fig, err
		}
		for j, r := range op.Results {
			if r.Err != nil || r.Written == nil {
				return fig, fmt.Errorf("floor: sign %s: %v (digests taken: %t)", b.Docs[j].Path, r.Err, r.Written != nil)
			}
			written[start+j] = r.Written
		}
	}

	cpu0 = benchdata.CPUTime()
	for i, out := range outs {
		if _, err := signer.CheckOutput(signing.TypePAdES, out, nil, sizes[i], sums[i], written[i]); err != nil {
			return fig, fmt.Errorf("floor: check %s: %w", out, err)
		}
	}
	fig.check = perDoc(benchdata.CPUTime()-cpu0, n)

	cpu0 = benchdata.CPUTime()
	for _, out := range outs {
		name := filepath.Base(out)
		from := out
		for _, d := range []string{"a", "b", "c"} {
			to := filepath.Join(dir, d, name)
			if err := os.Rename(from, to); err != nil {
				return fig, err
			}
			from = to
		}
	}
	fig.moves = perDoc(benchdata.CPUTime()-cpu0, n)

	db, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		return fig, err
	}
	defer db.Close()
	ctx := context.Background()
	cpu0 = benchdata.CPUTime()
	for start := 0; start < n; start += 50 {
		docs := make([]*ledger.Doc, 0, 50)
		for i := start; i < min(n, start+50); i++ {
			docs = append(docs, &ledger.Doc{Folder: "f", Rel: filepath.Base(paths[i]), Size: sizes[i], SHA256: sums[i]})
		}
		if err := db.AddSeen(ctx, docs...); err != nil {
			return fig, err
		}
		if _, err := db.Claim(ctx, "f", docs, nil); err != nil {
			return fig, err
		}
		ids := make([]int64, len(docs))
		for j, d := range docs {
			ids[j] = d.ID
		}
		bt := &ledger.Batch{Folder: "f", Backend: "local"}
		if err := db.CreateBatch(ctx, bt, ids); err != nil {
			return fig, err
		}
		if err := db.MarkSubmitted(ctx, bt, "{}"); err != nil {
			return fig, err
		}
		// As publishAll records them: the signed states with the output
		// names, then publication with the archiving, each batch in one
		// transaction.
		var signed, names, published []ledger.Update
		for j, id := range ids {
			signed = append(signed, ledger.Update{ID: id, BatchID: bt.ID, State: signagent.StateSigned, OutputSHA: sums[start+j], SigType: string(signing.TypePAdES)})
			names = append(names, ledger.Update{ID: id, BatchID: bt.ID, Output: docs[j].Rel})
			published = append(published, ledger.Update{ID: id, BatchID: bt.ID, State: signagent.StatePublished, Output: docs[j].Rel, Cleaned: true})
		}
		for _, ups := range [][]ledger.Update{append(signed, names...), published} {
			if err := db.Apply(ctx, ups...); err != nil {
				return fig, err
			}
		}
		if err := db.FinishBatch(ctx, bt.ID); err != nil {
			return fig, err
		}
	}
	fig.ledger = perDoc(benchdata.CPUTime()-cpu0, n)
	return fig, nil
}

// printFloor prints f beside the agent's measured CPU per document added
// (added, ms) and the budget.
func printFloor(f floorFigures, n int, added float64) {
	fmt.Printf("RESULT floor, what the agent must add per document (%d documents, one at a time, same files): claim hash %.2f ms + output check %.2f ms + 3 renames %.2f ms + ledger states %.2f ms = %.2f ms (target for all it adds: <= +0.35 ms; measured +%.2f ms)\n",
		n, f.hash, f.check, f.moves, f.ledger, f.total(), added)
}
