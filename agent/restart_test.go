package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// TestRestartAfterCrashAtEachState builds the ledger and disk exactly as a
// crash at each point of the pipeline leaves them, starts the agent, and
// checks that the document ends up published exactly once (or failed with
// its error file), with nothing left in the claim area.
func TestRestartAfterCrashAtEachState(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	ctx := context.Background()

	type step int
	const (
		recorded step = iota // seen recorded, not renamed
		renamed              // seen recorded, renamed into the claim area
		claimed
		batched // batch recorded; the send may or may not have happened
		signedUnplaced
		signedPlaced // linked into the outbox, publication not recorded
		published    // published, original not yet archived
		failed       // failure recorded, original not yet moved
	)
	names := []string{"recorded", "renamed", "claimed", "batched", "signed-unplaced", "signed-placed", "published", "failed"}

	for s := recorded; s <= failed; s++ {
		t.Run(names[s], func(t *testing.T) {
			e := newEnv(t, nil)
			inPath := filepath.Join(e.inbox, "inv.pdf")
			if err := os.WriteFile(inPath, pdf, 0o644); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(inPath)
			d := &ledger.Doc{Folder: "invoices", Rel: "inv.pdf", Size: fi.Size(), ModTime: fi.ModTime(),
				SHA256: hex.EncodeToString(sum[:])}
			if err := e.db.AddSeen(ctx, d); err != nil {
				t.Fatal(err)
			}
			claim := filepath.Join(e.inbox, filepath.FromSlash(d.Claim))
			signedTmp := claim + ".signed"
			output := filepath.Join(e.outbox, "inv.pdf")
			os.MkdirAll(filepath.Dir(claim), 0o700)
			if s >= renamed {
				if err := os.Rename(inPath, claim); err != nil {
					t.Fatal(err)
				}
			}
			if s >= claimed && s != failed {
				must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, State: signagent.StateClaimed}))
			}
			var b ledger.Batch
			if s >= batched && s != failed {
				b = ledger.Batch{Folder: "invoices", Backend: "local"}
				must(t, e.db.CreateBatch(ctx, &b, []int64{d.ID}))
			}
			if s >= signedUnplaced && s != failed {
				if _, err := e.local.SignFile(ctx, claim, signedTmp, "inv.pdf", signing.Options{Type: signing.TypeAuto}); err != nil {
					t.Fatal(err)
				}
				out, _ := os.ReadFile(signedTmp)
				osum := sha256.Sum256(out)
				must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, BatchID: b.ID, State: signagent.StateSigned,
					OutputSHA: hex.EncodeToString(osum[:]), SigType: "pades"}))
				must(t, e.db.FinishBatch(ctx, b.ID))
			}
			if s >= signedPlaced && s != failed {
				must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, BatchID: b.ID, Output: output}))
				must(t, os.Link(signedTmp, output))
			}
			if s >= published && s != failed {
				os.Remove(signedTmp)
				must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, BatchID: b.ID, State: signagent.StatePublished}))
			}
			if s == failed {
				must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, State: signagent.StateFailed, ErrCode: signagent.CodeNotAPDF,
					ErrMessage: "pretend", Output: filepath.Join(e.errDir, "inv.pdf"), Attempts: 1}))
			}

			e.start()
			if s == failed {
				e.waitFor("error file", func() bool { return exists(filepath.Join(e.errDir, "inv.pdf.error.json")) })
				if got := files(e.errDir); len(got) != 2 {
					t.Errorf("error/: %v", got)
				}
			} else {
				e.waitFor("published and archived", func() bool {
					got, err := e.db.Get(ctx, d.ID)
					return len(files(e.archive)) == 1 && (err != nil || got.Cleaned)
				})
				if got := files(e.outbox); len(got) != 1 || got[0] != "inv.pdf" {
					t.Errorf("outbox: %v, want exactly inv.pdf", got)
				}
				vs, err := signer.VerifyFile(ctx, output)
				if err != nil || len(vs) != 1 || !vs[0].Valid {
					t.Errorf("output does not verify: %v %+v", err, vs)
				}
			}
			e.stop()
			if left := files(filepath.Join(e.inbox)); len(left) != 0 {
				t.Errorf("inbox: %v", left)
			}
			ents, _ := os.ReadDir(filepath.Join(e.inbox, ledger.ClaimDir))
			for _, en := range ents {
				t.Errorf("claim area not empty: %s", en.Name())
			}
			st, err := e.db.Status(ctx, []string{"invoices"})
			must(t, err)
			total := 0
			for _, n := range st.Folders[0].Counts {
				total += n
			}
			if total != 1 {
				t.Errorf("ledger holds %d documents, want 1: %v", total, st.Folders[0].Counts)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFinishedBatchLeftOpenIsNotSentAgain: a batch whose documents all
// failed, but whose end was not recorded (the ledger write failed, or a
// crash came first), is closed after restart without sending anything.
func TestFinishedBatchLeftOpenIsNotSentAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	d := &ledger.Doc{Folder: "invoices", Rel: "gone.pdf", Size: 10, ModTime: time.Now(), SHA256: "00"}
	must(t, e.db.AddSeen(ctx, d))
	b := ledger.Batch{Folder: "invoices", Backend: "local"}
	must(t, e.db.CreateBatch(ctx, &b, []int64{d.ID}))
	must(t, e.db.Apply(ctx, ledger.Update{ID: d.ID, BatchID: b.ID, State: signagent.StateFailed,
		ErrCode: signagent.CodeCorruptPDF, ErrMessage: "bad", Cleaned: true}))
	var submits atomic.Int32
	e.folder.Backend = &hookBackend{Backend: e.local, before: func(*signing.Batch) { submits.Add(1) }}
	e.start()
	e.waitFor("the batch closed", func() bool {
		open, err := e.db.OpenBatches(ctx, "invoices")
		return err == nil && len(open) == 0
	})
	if n := submits.Load(); n != 0 {
		t.Errorf("the finished batch was sent %d times", n)
	}
}
