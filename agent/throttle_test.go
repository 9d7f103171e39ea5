package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signagent/signagent"
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
