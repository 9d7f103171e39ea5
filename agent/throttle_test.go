package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signing"
)

// TestStepThrottledSendIsSentAgain: a send the backend refused before any
// work (signing.ErrNotTaken: Sign'Stash's 429) took nothing, so the batch
// is sent again after the wait, without a look-up; one signature results.
func TestStepThrottledSendIsSentAgain(t *testing.T) {
	e := newStepEnv(t)
	sends := 0
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		if sends++; sends == 1 {
			return nil, &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient,
				Message: "sign batch: Sign'Stash answered 429", RetryAfter: time.Second, Err: signing.ErrNotTaken}
		}
		return e.fb.local.Submit(ctx, b)
	}
	lb := e.batch("a.txt")
	e.process(lb, false)

	if got := e.fb.count("lookup"); got != 0 {
		t.Errorf("%d look-ups after a throttled send, want none (calls %v)", got, e.fb.log())
	}
	if got := e.fb.count("submit"); got != 2 {
		t.Errorf("%d submits, want 2: the throttled one and the one that signed (calls %v)", got, e.fb.log())
	}
	if d := e.doc("a.txt"); d.State != signagent.StatePublished {
		t.Errorf("a.txt is %s, want published", d.State)
	}
	if _, err := os.Stat(filepath.Join(e.r.f.Outbox, "a.txt.p7s")); err != nil {
		t.Errorf("no signature in the outbox: %v", err)
	}
}

// TestStepFoundButUnpollableWaitsForDecision: behind a balancer without an
// instance list, a look-up may find the operation on one instance while
// every poll reaches the other, which does not know it. That settles
// nothing: the batch is neither sent again nor left cycling for ever
// between look-up and poll, but recorded as outcome unknown after
// OutcomeUnknownAfter, for an operator's decision.
func TestStepFoundButUnpollableWaitsForDecision(t *testing.T) {
	e := newStepEnv(t)
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return nil, transient("connection reset after the request was sent")
	}
	e.fb.lookup = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return &signing.Operation{ID: "1001", Ref: b.Ref, PollAfter: time.Second}, nil
	}
	e.fb.poll = func(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
		return nil, signing.ErrNotFound
	}
	lb := e.batch("a.txt")
	e.processFor(lb, false, 50) // 50 waits of 10 minutes: past OutcomeUnknownAfter

	if st := e.batchState(lb.ID); st != ledger.BatchUnknown {
		t.Errorf("batch %s, want %s (awaiting a decision); calls %v", st, ledger.BatchUnknown, e.fb.log())
	}
	if got := e.fb.count("submit"); got != 1 {
		t.Errorf("%d submits, want 1", got)
	}
	if d := e.doc("a.txt"); d.State.Terminal() {
		t.Errorf("a.txt is %s while its outcome is unknown", d.State)
	}
}
