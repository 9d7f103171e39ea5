package agent

import (
	"context"
	"os"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/atomicfile"
	"github.com/signagent/signagent/ledger"
)

// reconcile brings the ledger and the disk back in line after a stop or a
// crash: every unfinished record is finished or redone. Claimed documents
// and open batches are handed to run; everything else is settled here.
func (r *runner) reconcile(ctx context.Context) error {
	if err := r.a.Ledger.Release(ctx, r.f.Name); err != nil {
		return err
	}
	var docs []*ledger.Doc
	if err := r.a.Ledger.Unfinished(ctx, r.f.Name, func(d *ledger.Doc) error {
		docs = append(docs, d)
		return nil
	}); err != nil {
		return err
	}
	batches, err := r.a.Ledger.OpenBatches(ctx, r.f.Name)
	if err != nil {
		return err
	}
	open := map[int64]bool{}
	for _, b := range batches {
		open[b.ID] = true
	}
	r.resume = batches

	var claimed, signed, published []*ledger.Doc
	forgotten, failed := 0, 0
	for _, d := range docs {
		claim := r.abs(d.Claim)
		switch d.State {
		case signagent.StateSeen:
			if !exists(claim) {
				// Crashed before the rename: forget it; the scan finds
				// the file again if it is still in the inbox.
				if err := r.a.Ledger.Delete(ctx, d.ID); err != nil {
					return err
				}
				forgotten++
				continue
			}
			claimed = append(claimed, d)
		case signagent.StateClaimed:
			claimed = append(claimed, d)
		case signagent.StateBatched, signagent.StateSubmitted:
			if !open[d.BatchID] {
				claimed = append(claimed, d) // its batch finished without it
			}
		case signagent.StateSigned:
			signed = append(signed, d)
		case signagent.StatePublished:
			published = append(published, d)
		case signagent.StateFailed:
			failed++
			r.fail(ctx, d, "", signagent.DocError(d.ErrCode, d.ErrMessage, ""))
		}
	}

	var ups []ledger.Update
	var ready []*ledger.Doc
	for _, d := range claimed {
		claim := r.abs(d.Claim)
		if !exists(claim) {
			// The rename may not have reached the disk before a crash:
			// claim again if the original is still where it was.
			if fi, err := os.Lstat(r.abs(d.Rel)); err == nil && fi.Mode().IsRegular() && fi.Size() == d.Size && fi.ModTime().Equal(d.ModTime) {
				if err := atomicfile.Rename(r.abs(d.Rel), claim); err != nil {
					return err
				}
			} else {
				r.log.Error("claimed file vanished from the claim area; recording it as failed", "doc", d.ID, "file", d.Rel)
				d.State = signagent.StateClaimed
				r.fail(ctx, d, "", signagent.DocError(signagent.CodeUnreadable,
					"the claimed file disappeared from "+ledger.ClaimDir+" while the agent was stopped",
					"look for the original where it was exported; drop it into the inbox again"))
				continue
			}
		}
		// NextAttempt is kept: a document that was failing resumes its
		// retry schedule where it stood.
		ups = append(ups, ledger.Update{ID: d.ID, State: signagent.StateClaimed, NextAttempt: d.NextAttempt})
		d.State, d.BatchID = signagent.StateClaimed, 0
		os.Remove(r.out(d))
		ready = append(ready, d)
	}
	if err := r.a.Ledger.Apply(ctx, ups...); err != nil {
		return err
	}
	if len(signed) > 0 {
		r.publishAll(ctx, signed)
	}
	if len(published) > 0 {
		r.cleanup(ctx, published)
	}
	r.pending = ready
	r.log.Info("reconciled", "requeued", len(ready), "batches", len(batches), "republished", len(signed),
		"cleaned", len(published), "failures_finished", failed, "forgotten", forgotten)
	return nil
}
