package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signing"
)

// createBatch records a batch of claimed documents before anything is sent.
func (r *runner) createBatch(ctx context.Context, items []*item) (*ledger.Batch, error) {
	lb := &ledger.Batch{Folder: r.f.Name, Backend: r.f.Backend.Name()}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.doc.ID
		lb.Bytes += it.doc.Size
	}
	if err := r.a.Ledger.CreateBatch(ctx, lb, ids); err != nil {
		return nil, err
	}
	for range items {
		r.a.Observer.Transition(r.f.Name, signagent.StateBatched)
	}
	r.a.Observer.Batch(r.f.Name, len(items), lb.Bytes)
	r.log.Info("batched", "batch", lb.ID, "ref", lb.Ref, "docs", len(items), "bytes", lb.Bytes)
	return lb, nil
}

// signerBatch builds the backend's view of a recorded batch.
func (r *runner) signerBatch(lb *ledger.Batch, docs []*ledger.Doc) *signing.Batch {
	sb := &signing.Batch{Ref: lb.Ref}
	for _, d := range docs {
		sb.Docs = append(sb.Docs, signing.Doc{
			Ref:  fmt.Sprintf("%s-d%d", lb.Ref, d.ID),
			Name: filepath.Base(filepath.FromSlash(d.Rel)),
			Path: r.abs(d.Claim),
			Size: d.Size,
			Out:  r.out(d),
			Opts: r.f.Opts,
		})
	}
	return sb
}

// process drives one batch to the end: submit (or look up after an unknown
// outcome), track, then publish or fail each document. It returns when the
// batch is done or ctx ends (the ledger then says where to resume). It calls
// free, which gives back the batch's in-flight slot, once the backend is
// done with the batch, so the next batch signs while this one publishes.
func (r *runner) process(ctx context.Context, lb *ledger.Batch, resumed bool, free func()) {
	log := r.log.With("batch", lb.ID)
	docs, err := r.a.Ledger.BatchDocs(ctx, lb.ID)
	if err != nil {
		log.Error("cannot load batch", "err", err)
		return
	}
	if !slices.ContainsFunc(docs, func(d *ledger.Doc) bool { return !d.State.Terminal() }) {
		// Nothing left to sign (a batch whose end was not recorded):
		// never send its documents again.
		r.finishBatch(ctx, lb)
		return
	}
	var op *signing.Operation
	if lb.State == ledger.BatchSubmitted && lb.Operation != "" {
		op = new(signing.Operation)
		if err := json.Unmarshal([]byte(lb.Operation), op); err != nil {
			op = nil
		}
	}
	// unknown is true when a send may have reached the backend without us
	// learning the outcome: look up before sending again.
	unknown := resumed && op == nil
	bo := newBackoff()    // waits between polls that suggest none
	fails := newBackoff() // waits after failures, reset by a success
	for op == nil || !op.Done {
		if ctx.Err() != nil {
			return
		}
		sb := r.signerBatch(lb, docs)
		var err error
		stage := "submit"
		start := time.Now()
		switch {
		case op != nil:
			stage = "poll"
			var next *signing.Operation
			next, err = r.f.Backend.Poll(ctx, sb, op)
			if errors.Is(err, signing.ErrNotFound) {
				// The operation vanished (instance restarted): prove it
				// absent, then resubmit under a new reference.
				op, unknown = nil, true
				continue
			}
			if err == nil {
				op = next
			} // else poll the same operation again: sending again could sign twice
		case unknown:
			stage = "lookup"
			op, err = r.f.Backend.Lookup(ctx, sb)
			if errors.Is(err, signing.ErrNotFound) {
				if err = r.a.Ledger.Resubmit(ctx, lb); err != nil {
					log.Error("cannot record resubmission", "err", err)
					return
				}
				log.Info("operation absent at the backend; resubmitting", "ref", lb.Ref)
				op, unknown = nil, false
				continue
			}
			if err == nil {
				unknown = false
				r.recordSubmitted(ctx, lb, op)
			}
		default:
			op, err = r.f.Backend.Submit(ctx, sb)
			if err == nil {
				r.recordSubmitted(ctx, lb, op)
			}
		}
		if stage != "lookup" {
			r.a.Observer.Stage(r.f.Name, stage, time.Since(start))
		}
		if err == nil {
			r.release(ctx, signagent.KindConfig)
			fails = newBackoff()
			if !op.Done {
				wait := op.PollAfter
				if wait <= 0 {
					wait = bo.NextBackOff()
				}
				if !sleep(ctx, wait) {
					return
				}
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if stage == "submit" && signagent.KindOf(err) == signagent.KindTransient {
			// No answer, or one that does not prove the batch refused: it
			// may have been taken. A configuration or account refusal
			// (an error answer before any work), or a local fault before
			// sending, leaves nothing behind: send again once it clears.
			unknown = true
		}
		switch signagent.KindOf(err) {
		case signagent.KindDocument:
			for _, d := range docs {
				r.fail(ctx, d, lb.Ref, err)
			}
			r.finishBatch(ctx, lb)
			return
		case signagent.KindConfig, signagent.KindLocal:
			r.hold(ctx, err)
			if !r.holdSleep(ctx) {
				return
			}
		default:
			r.a.Observer.Retry(r.f.Name)
			if r.gaveUp(docs) {
				for _, d := range docs {
					r.fail(ctx, d, lb.Ref, &signagent.Error{Kind: signagent.KindDocument, Code: signagent.CodeGaveUp,
						Message: fmt.Sprintf("still failing after %s: %v", r.f.GiveUpAfter, err),
						Hint:    "check the backend's reachability, then `signagent retry` this document"})
				}
				r.finishBatch(ctx, lb)
				return
			}
			wait := fails.NextBackOff()
			var se *signagent.Error
			if errors.As(err, &se) && se.RetryAfter > wait {
				wait = se.RetryAfter
			}
			log.Warn("transient failure; will retry", "stage", stage, "in", wait.Round(time.Millisecond), "err", err)
			if !sleep(ctx, wait) {
				return
			}
		}
	}
	// Publication is disk work: take a publication slot (so a slow outbox
	// still pushes back on intake), then hand the in-flight slot on.
	select {
	case r.publishing <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-r.publishing }()
	free()
	r.finish(ctx, lb, docs, op)
}

func (r *runner) recordSubmitted(ctx context.Context, lb *ledger.Batch, op *signing.Operation) {
	if op.Ref == "" {
		op.Ref = lb.Ref
	}
	b, _ := json.Marshal(op)
	if err := r.a.Ledger.MarkSubmitted(ctx, lb, string(b)); err != nil {
		r.log.Error("cannot record submission", "batch", lb.ID, "err", err)
		return
	}
	for range lb.Docs {
		r.a.Observer.Transition(r.f.Name, signagent.StateSubmitted)
	}
	r.log.Info("submitted", "batch", lb.ID, "ref", lb.Ref, "op", op.ID, "endpoint", op.Endpoint, "done", op.Done)
}

// finish handles a done operation's results: publish the signed, fail the
// rejected, requeue the ones to retry.
func (r *runner) finish(ctx context.Context, lb *ledger.Batch, docs []*ledger.Doc, op *signing.Operation) {
	results := map[string]signing.Result{}
	for _, res := range op.Results {
		results[res.Ref] = res
	}
	sb := r.signerBatch(lb, docs)
	var signed []*ledger.Doc
	var ups []ledger.Update
	var retry []*ledger.Doc
	var holdErr error
	type changedDoc struct {
		d   *ledger.Doc
		err error
	}
	var changedDocs []changedDoc
	for i, d := range docs {
		if d.State.Terminal() {
			continue
		}
		res, ok := results[sb.Docs[i].Ref]
		err := res.Err
		if !ok {
			err = &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient, Message: "the backend returned no result for this document"}
		}
		if err == nil {
			t := sb.Docs[i].Opts.Type.Resolve(sb.Docs[i].Name)
			err = r.checkOutput(d, t, res)
		} else if signagent.KindOf(err) == signagent.KindDocument {
			if cerr := r.claimCheck(d); isChanged(cerr) {
				err = cerr // the backend refused bytes that are not the recorded ones
			}
		}
		if isChanged(err) {
			// A producer still writing: settle, then sign what it wrote.
			os.Remove(r.out(d))
			d.State = signagent.StateClaimed
			ups = append(ups, ledger.Update{ID: d.ID, State: signagent.StateClaimed})
			changedDocs = append(changedDocs, changedDoc{d, err})
			continue
		}
		if err == nil {
			sum, _, herr := hashFile(r.out(d))
			if herr != nil {
				err = &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeSigningError, Message: "signed output missing", Err: herr}
			} else {
				t := sb.Docs[i].Opts.Type.Resolve(sb.Docs[i].Name)
				d.State, d.OutputSHA, d.SigType = signagent.StateSigned, sum, string(t)
				ups = append(ups, ledger.Update{ID: d.ID, State: signagent.StateSigned, BatchID: lb.ID, OutputSHA: sum, SigType: string(t)})
				if !d.NextAttempt.IsZero() {
					r.log.Info("document signed after failed attempts", "doc", d.ID, "attempts", d.Attempts)
				}
				signed = append(signed, d)
				continue
			}
		}
		switch signagent.KindOf(err) {
		case signagent.KindDocument:
			r.fail(ctx, d, lb.Ref, err)
			continue
		case signagent.KindConfig, signagent.KindLocal:
			// An account or local problem holds the folder: its documents
			// wait however long it lasts. Only transient failures give up.
			holdErr = err
		default:
			if r.gaveUp([]*ledger.Doc{d}) {
				r.fail(ctx, d, lb.Ref, &signagent.Error{Kind: signagent.KindDocument, Code: signagent.CodeGaveUp,
					Message: fmt.Sprintf("still failing after %s: %v", r.f.GiveUpAfter, err)})
				continue
			}
		}
		first := d.NextAttempt.IsZero()
		d.State, d.Attempts = signagent.StateClaimed, d.Attempts+1
		d.NextAttempt = r.a.Now().Add(retryWait(d.Attempts, rand.Float64()))
		// One line when a document starts failing (and one when it is
		// signed at last); the attempts between are counted in the ledger.
		if first {
			r.log.Warn("document not signed; will retry with growing waits (up to 5 min)", "doc", d.ID, "err", err)
		} else {
			r.log.Debug("document not signed; will retry", "doc", d.ID, "attempt", d.Attempts, "next_attempt", d.NextAttempt, "err", err)
		}
		os.Remove(r.out(d))
		ups = append(ups, ledger.Update{ID: d.ID, State: signagent.StateClaimed, Attempts: d.Attempts, NextAttempt: d.NextAttempt})
		retry = append(retry, d)
	}
	for range signed {
		r.a.Observer.Transition(r.f.Name, signagent.StateSigned)
	}
	// The signed states and requeues are recorded with the output names,
	// in one transaction.
	r.publishAll(ctx, signed, ups...)
	r.finishBatch(ctx, lb)
	for _, c := range changedDocs {
		r.resettle(ctx, c.d, c.err)
	}
	if len(retry) > 0 {
		if holdErr != nil {
			r.hold(ctx, holdErr)
			r.requeueLater(ctx, retry, r.holdWait())
			return
		}
		for _, d := range retry {
			r.requeueLater(ctx, []*ledger.Doc{d}, d.NextAttempt.Sub(r.a.Now()))
		}
	}
}

// finishBatch records that a batch is done. If that cannot be recorded the
// batch stays open, and reconcile resumes it after a restart: its documents
// are already terminal or requeued, so resuming only closes it.
func (r *runner) finishBatch(ctx context.Context, lb *ledger.Batch) {
	if err := r.a.Ledger.FinishBatch(ctx, lb.ID); err != nil {
		r.log.Error("cannot record the batch as finished; it is closed after the next restart", "batch", lb.ID, "err", err)
	}
}

// gaveUp reports whether any document has been retried past GiveUpAfter.
func (r *runner) gaveUp(docs []*ledger.Doc) bool {
	now := r.a.Now()
	for _, d := range docs {
		if !d.FirstTry.IsZero() && now.Sub(d.FirstTry) > r.f.GiveUpAfter {
			return true
		}
	}
	return false
}

// hold records that the folder waits on a configuration or local problem.
func (r *runner) hold(ctx context.Context, err error) {
	r.heldBy.Store(int32(signagent.KindOf(err)) + 1)
	reason := err.Error()
	if h := signagent.HintOf(err); h != "" {
		reason += " (hint: " + h + ")"
	}
	if herr := r.a.Ledger.Hold(ctx, r.f.Name, reason); herr != nil {
		r.log.Error("cannot record hold", "err", herr)
	}
	r.log.Error("folder held: documents wait until the problem is fixed", "kind", signagent.KindOf(err).String(),
		"code", signagent.CodeOf(err), "err", err)
}

// release clears a hold of the given kind once the step that failed has
// worked: a backend call clears an account hold, a publication a local one
// (outbox, disk); neither clears the other's.
func (r *runner) release(ctx context.Context, kind signagent.Kind) {
	if !r.heldBy.CompareAndSwap(int32(kind)+1, 0) {
		return
	}
	r.holdTries.Store(0)
	r.log.Info("folder released")
	if err := r.a.Ledger.Release(ctx, r.f.Name); err != nil {
		r.log.Error("cannot clear hold", "err", err)
	}
}

// newBackoff returns the agent's retry schedule: exponential from 500 ms,
// doubling, ±50 % jitter, capped at 5 minutes.
func newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.Multiplier = 2
	b.MaxInterval = 5 * time.Minute
	b.Reset()
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
