package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// batchRun is one batch on its way through the backend: what the agent
// knows of its operation and the waits between calls. Only the goroutine
// running process uses it.
type batchRun struct {
	lb   *ledger.Batch
	docs []*ledger.Doc
	log  *slog.Logger
	// op is the backend's operation once a send is known to have been
	// accepted (by its answer or by a look-up); nil before.
	op *signing.Operation
	// unknown is set when a send may have reached the backend without the
	// agent learning the outcome: look up before sending again.
	unknown bool
	// unknownSince is when the current run of look-ups began (agent
	// clock); waiting is set once the batch is recorded as waiting for an
	// operator's decision (ledger.BatchUnknown).
	unknownSince time.Time
	waiting      bool
	// lost counts the operations the backend took for this batch and then
	// no longer knew (an instance that restarted), in this run; after
	// maxLost the batch waits for an operator instead of being sent again.
	lost int
	// free gives back the batch's in-flight slot: a batch waiting for a
	// decision does not keep the folder's other batches waiting.
	free  func()
	polls *backoff.ExponentialBackOff // waits between polls that suggest none
	fails *backoff.ExponentialBackOff // waits after failures, reset by a success
}

// Backend calls of a batch (the stage names of metrics and logs).
const (
	stageSubmit = "submit"
	stageLookup = "lookup"
	stagePoll   = "poll"
)

// next says what process does after a step.
type next int

const (
	nextCall next = iota // call the backend again (after the step's wait, if any)
	nextHold             // the folder is held: wait the hold's wait, then call again
	nextEnd              // the batch is finished, or cannot go on (logged)
)

// process drives one batch to the end: submit (or look up after an unknown
// outcome), track, then publish or fail each document. It returns when the
// batch is done or ctx ends (the ledger then says where to resume). It calls
// free, which gives back the batch's in-flight slot, once the backend is
// done with the batch, so the next batch signs while this one publishes.
func (r *runner) process(ctx context.Context, lb *ledger.Batch, resumed bool, free func()) {
	s := r.openRun(ctx, lb, resumed, free)
	if s == nil {
		return
	}
	for s.op == nil || !s.op.Done {
		if ctx.Err() != nil {
			return
		}
		n, wait := r.step(ctx, s)
		switch n {
		case nextEnd:
			return
		case nextHold:
			if !r.holdSleep(ctx) {
				return
			}
		default:
			if wait > 0 && !r.a.sleep(ctx, wait) {
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
	r.finish(ctx, lb, s.docs, s.op)
}

// openRun loads a recorded batch for process. A resumed batch without a
// recorded operation may have been sent: it starts with a look-up. It
// returns nil when there is nothing to do (the batch is then closed, or it
// cannot be loaded, which is logged).
func (r *runner) openRun(ctx context.Context, lb *ledger.Batch, resumed bool, free func()) *batchRun {
	s := &batchRun{lb: lb, log: r.log.With("batch", lb.ID), polls: newBackoff(), fails: newBackoff(), free: free}
	docs, err := r.a.Ledger.BatchDocs(ctx, lb.ID)
	if err != nil {
		s.log.Error("cannot load batch", "err", err)
		return nil
	}
	s.docs = docs
	if !slices.ContainsFunc(docs, func(d *ledger.Doc) bool { return !d.State.Terminal() }) {
		// Nothing left to sign (a batch whose end was not recorded):
		// never send its documents again.
		r.finishBatch(ctx, lb)
		return nil
	}
	if lb.State == ledger.BatchSubmitted && lb.Operation != "" {
		s.op = new(signing.Operation)
		if err := json.Unmarshal([]byte(lb.Operation), s.op); err != nil {
			s.op = nil
		}
	}
	s.unknown = resumed && s.op == nil
	if s.waiting = lb.State == ledger.BatchUnknown; s.waiting {
		// Recorded as waiting for a decision: it keeps waiting after a
		// restart unless a look-up finds it (a "not found" alone does not
		// send it again).
		s.lost = maxLost
		free()
	}
	return s
}

// step makes the one backend call the batch's state calls for — poll a
// known operation, look up after an unknown outcome, or submit — and
// decides what follows from its answer: call again after wait, wait on a
// hold, or end.
func (r *runner) step(ctx context.Context, s *batchRun) (next, time.Duration) {
	var stage string
	var err error
	start := r.a.Clock.Now()
	switch {
	case s.op != nil:
		stage, err = stagePoll, r.poll(ctx, s)
		if errors.Is(err, errUnsettled) {
			stage = stageLookup
		}
	case s.unknown:
		if n, done := r.decided(ctx, s); done {
			return n, 0
		}
		stage, err = stageLookup, r.lookup(ctx, s)
	default:
		stage, err = stageSubmit, r.submit(ctx, s)
	}
	if errors.Is(err, errCallAgain) {
		return nextCall, 0
	}
	if errors.Is(err, errStop) {
		return nextEnd, 0
	}
	if stage != stageLookup {
		r.a.Observer.Stage(r.f.Name, stage, r.a.Clock.Since(start))
	}
	if err == nil {
		r.release(ctx, signagent.KindConfig)
		s.fails = newBackoff()
		if s.op.Done {
			return nextCall, 0
		}
		wait := s.op.PollAfter
		if wait <= 0 {
			wait = s.polls.NextBackOff()
		}
		return nextCall, wait
	}
	if ctx.Err() != nil {
		return nextEnd, 0
	}
	return r.failed(ctx, s, stage, err)
}

// errCallAgain and errStop are step results that are not the backend's
// errors: the state changed and the next call follows at once, or the
// batch cannot go on (already logged).
var (
	errCallAgain = errors.New("call again")
	errStop      = errors.New("stop")
)

// submit sends the batch. A transient failure of the send leaves its
// outcome unknown (see failed).
func (r *runner) submit(ctx context.Context, s *batchRun) error {
	op, err := r.f.Backend.Submit(ctx, r.signerBatch(s.lb, s.docs))
	if err != nil {
		return err
	}
	s.op = op
	r.recordSubmitted(ctx, s.lb, op)
	return nil
}

// lookup asks the backend for the operation of a send whose outcome is
// unknown. Only a proof of absence (signing.ErrNotFound) lets the batch be
// sent again, under a new reference; any other failure is retried.
func (r *runner) lookup(ctx context.Context, s *batchRun) error {
	if s.unknownSince.IsZero() {
		s.unknownSince = r.a.Clock.Now()
	}
	op, err := r.f.Backend.Lookup(ctx, r.signerBatch(s.lb, s.docs))
	if errors.Is(err, signing.ErrNotFound) && s.lost >= maxLost {
		// Each send was taken, then forgotten: "not found" is no proof
		// that the service did not sign it (an instance that restarts
		// forgets what it signed), and sending again could sign the
		// documents once more each time.
		return errLost
	}
	if errors.Is(err, signing.ErrNotFound) {
		s.unknownSince, s.waiting = time.Time{}, false
		if err := r.a.Ledger.Resubmit(ctx, s.lb); err != nil {
			s.log.Error("cannot record resubmission", "err", err)
			return errStop
		}
		s.log.Info("operation absent at the backend; resubmitting", "ref", s.lb.Ref)
		s.op, s.unknown = nil, false
		return errCallAgain
	}
	if err != nil {
		return err
	}
	// Found: the outcome is settled once the operation answers a poll (or
	// is done already); until then the batch stays as it is recorded.
	s.op, s.unknown = op, false
	if op.Done {
		s.unknownSince, s.waiting = time.Time{}, false
	}
	return nil
}

// poll advances a known operation. A failed poll polls the same operation
// again (sending again could sign twice); an operation the backend no
// longer knows (an instance restarted) is looked up, to prove it absent
// before the batch is sent again.
func (r *runner) poll(ctx context.Context, s *batchRun) error {
	op, err := r.f.Backend.Poll(ctx, r.signerBatch(s.lb, s.docs), s.op)
	if errors.Is(err, signing.ErrNotFound) {
		s.op, s.unknown = nil, true
		if !s.unknownSince.IsZero() {
			// A look-up found it, yet the call that tracks it does not
			// (another instance behind a balancer): still unsettled.
			return errUnsettled
		}
		s.lost++
		return errCallAgain
	}
	if err != nil {
		return err
	}
	if !s.unknownSince.IsZero() {
		// The operation a look-up found answers: the outcome is known.
		r.recordSubmitted(ctx, s.lb, op)
		s.unknownSince, s.waiting = time.Time{}, false
	}
	s.op = op
	return nil
}

// errUnsettled: a look-up found the operation but polling it does not:
// the outcome is still unknown (handled as a failed look-up).
var errUnsettled = signagent.TransientError("the operation a look-up found is unknown to the call that polls it (another instance behind a balancer?)",
	"list the proxy's instances (instances = […]) so that each operation is polled where it runs", nil)

// maxLost is how many times the backend may take a batch and then lose it
// (each time it is sent again) before the batch waits for an operator's
// decision instead of being sent once more.
const maxLost = 3

// errLost: the backend lost the batch's operation maxLost times.
var errLost = signagent.TransientError(fmt.Sprintf("the service took this batch and then lost it %d times (an instance that restarts forgets what it signed): its \"not found\" is no proof that it did not sign it", maxLost),
	"check at the service whether the batch was signed; look at why its instances restart", nil)

// failed decides what follows a failed backend call (ctx still live).
func (r *runner) failed(ctx context.Context, s *batchRun, stage string, err error) (next, time.Duration) {
	kind := signagent.KindOf(err)
	if stage == stageSubmit && kind == signagent.KindTransient && !errors.Is(err, signing.ErrNotTaken) {
		// No answer, or one that does not prove the batch refused: it
		// may have been taken. A configuration or account refusal
		// (an error answer before any work), a throttled send
		// (signing.ErrNotTaken) or a local fault before sending leaves
		// nothing behind: send again once it clears.
		s.unknown = true
	}
	switch kind {
	case signagent.KindDocument:
		for _, d := range s.docs {
			r.fail(ctx, d, s.lb.Ref, err)
		}
		r.finishBatch(ctx, s.lb)
		return nextEnd, 0
	case signagent.KindConfig, signagent.KindLocal:
		r.hold(ctx, err)
		return nextHold, 0
	}
	r.a.Observer.Retry(r.f.Name)
	if stage == stageLookup {
		return r.unsettled(ctx, s, err)
	}
	if r.gaveUp(s.docs) {
		for _, d := range s.docs {
			r.fail(ctx, d, s.lb.Ref, signagent.DocError(signagent.CodeGaveUp,
				fmt.Sprintf("still failing after %s: %v", r.f.GiveUpAfter, err),
				"check the backend's reachability, then `signagent retry` this document"))
		}
		r.finishBatch(ctx, s.lb)
		return nextEnd, 0
	}
	wait := s.fails.NextBackOff()
	var se *signagent.Error
	if errors.As(err, &se) && se.RetryAfter > wait {
		wait = se.RetryAfter
	}
	s.log.Warn("transient failure; will retry", "stage", stage, "in", wait.Round(time.Millisecond), "err", err)
	return nextCall, wait
}

// unsettled decides what follows a look-up that failed without settling
// the outcome: look up again with backoff; after OutcomeUnknownAfter the
// batch waits for an operator's decision (`signagent resolve`), still
// looked up meanwhile, and never given up on: failing or sending it again
// could lose a signed document or sign it twice.
func (r *runner) unsettled(ctx context.Context, s *batchRun, err error) (next, time.Duration) {
	wait := s.fails.NextBackOff()
	var se *signagent.Error
	if errors.As(err, &se) && se.RetryAfter > wait {
		wait = se.RetryAfter
	}
	if !s.waiting && (errors.Is(err, errLost) || r.a.Clock.Since(s.unknownSince) >= r.a.OutcomeUnknownAfter) {
		if merr := r.a.Ledger.MarkUnknown(ctx, s.lb); merr != nil {
			s.log.Error("cannot record that the batch waits for a decision", "err", merr)
		} else {
			s.waiting = true
			s.free()
			s.log.Error("outcome unknown: look-ups cannot tell whether the backend took this batch; it waits for an operator's decision",
				"ref", s.lb.Ref, "since", s.unknownSince, "err", err,
				"hint", fmt.Sprintf("check at the service whether %s was signed, then run `signagent resolve %d --fail` (if it was) or `--resend` (if not)", s.lb.Ref, s.lb.ID))
		}
	}
	if s.waiting {
		wait = min(wait, decisionPoll)
		s.log.Debug("outcome still unknown; looking up again", "in", wait, "err", err)
		return nextCall, wait
	}
	s.log.Warn("outcome unknown; will look up again", "in", wait.Round(time.Millisecond), "err", err)
	return nextCall, wait
}

// decisionPoll bounds the wait between look-ups of a batch waiting for an
// operator's decision, so that a decision is carried out soon.
const decisionPoll = 15 * time.Second

// decided carries out an operator's decision on a batch waiting for one:
// resend it under a new reference, or fail its documents as
// OUTCOME_UNKNOWN. done is false when there is no decision.
func (r *runner) decided(ctx context.Context, s *batchRun) (n next, done bool) {
	if !s.waiting {
		return nextCall, false
	}
	decision, err := r.a.Ledger.Decision(ctx, s.lb.ID)
	if err != nil {
		s.log.Error("cannot read the operator's decision", "err", err)
		return nextCall, false
	}
	switch decision {
	case ledger.DecisionResend:
		if err := r.a.Ledger.Resubmit(ctx, s.lb); err != nil {
			s.log.Error("cannot record resubmission", "err", err)
			return nextEnd, true
		}
		s.log.Warn("resending a batch whose outcome was unknown, as an operator decided", "ref", s.lb.Ref)
		s.unknown, s.waiting, s.unknownSince, s.lost = false, false, time.Time{}, 0
		return nextCall, true
	case ledger.DecisionFail:
		s.log.Warn("failing a batch whose outcome was unknown, as an operator decided", "ref", s.lb.Ref)
		cause := signagent.DocError(signagent.CodeOutcomeUnknown,
			fmt.Sprintf("the outcome of batch %s stayed unknown (look-ups could not tell whether the service took it); an operator decided to fail it", s.lb.Ref),
			"check at the service whether this document was signed there; if not, `signagent retry` it")
		for _, d := range s.docs {
			if !d.State.Terminal() {
				r.fail(ctx, d, s.lb.Ref, cause)
			}
		}
		r.finishBatch(ctx, s.lb)
		return nextEnd, true
	}
	return nextCall, false
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
			err = signagent.TransientError("the backend returned no result for this document", "", nil)
		}
		t := sb.Docs[i].Opts.Type.Resolve(sb.Docs[i].Name)
		var sum string
		if err == nil {
			sum, err = r.checkOutput(d, t, res)
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
			d.State, d.OutputSHA, d.SigType = signagent.StateSigned, sum, string(t)
			ups = append(ups, ledger.Update{ID: d.ID, State: signagent.StateSigned, BatchID: lb.ID, OutputSHA: sum, SigType: string(t)})
			if !d.NextAttempt.IsZero() {
				r.log.Info("document signed after failed attempts", "doc", d.ID, "attempts", d.Attempts)
			}
			signed = append(signed, d)
			continue
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
				r.fail(ctx, d, lb.Ref, signagent.DocError(signagent.CodeGaveUp,
					fmt.Sprintf("still failing after %s: %v", r.f.GiveUpAfter, err), ""))
				continue
			}
		}
		first := d.NextAttempt.IsZero()
		d.State, d.Attempts = signagent.StateClaimed, d.Attempts+1
		d.NextAttempt = r.a.Clock.Now().Add(retryWait(d.Attempts, rand.Float64()))
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
			r.requeueLater(ctx, []*ledger.Doc{d}, d.NextAttempt.Sub(r.a.Clock.Now()))
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
	now := r.a.Clock.Now()
	for _, d := range docs {
		if !d.FirstTry.IsZero() && now.Sub(d.FirstTry) > r.f.GiveUpAfter {
			return true
		}
	}
	return false
}

// hold records that the folder waits on a configuration or local problem.
func (r *runner) hold(ctx context.Context, err error) {
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
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
	if r.heldBy.Load() != int32(kind)+1 {
		return // the common case, without the lock
	}
	r.holdMu.Lock()
	defer r.holdMu.Unlock()
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

// sleep waits d on the agent's clock; it reports false when ctx ends first.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	t := a.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}
