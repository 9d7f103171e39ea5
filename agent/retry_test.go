package agent_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/signing"
)

// The wait grows with the attempts recorded in the ledger, not from the
// first interval every time, and stays within ±50 % of the schedule.
func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration // with jitter 0.5: the schedule itself
	}{
		{0, 500 * time.Millisecond},
		{1, 500 * time.Millisecond},
		{2, time.Second},
		{3, 2 * time.Second},
		{6, 16 * time.Second},
		{10, 256 * time.Second},
		{11, 5 * time.Minute},
		{1000, 5 * time.Minute},
	} {
		if got := agent.RetryWait(tc.n, 0.5); got != tc.want {
			t.Errorf("agent.RetryWait(%d) = %s, want %s", tc.n, got, tc.want)
		}
		if lo, hi := agent.RetryWait(tc.n, 0), agent.RetryWait(tc.n, 0.999999); lo != tc.want/2 || hi < tc.want*3/2-time.Millisecond || hi > tc.want*3/2 {
			t.Errorf("agent.RetryWait(%d) spans [%s, %s], want [%s, %s)", tc.n, lo, hi, tc.want/2, tc.want*3/2)
		}
	}
	// With a timestamp authority down for 30 s, a document is tried a
	// handful of times, not 20: attempts at the schedule's midpoints.
	var elapsed time.Duration
	tries := 0
	for n := 1; elapsed < 30*time.Second; n++ {
		elapsed += agent.RetryWait(n, 0.5)
		tries++
	}
	if tries > 7 {
		t.Errorf("%d attempts in 30 s, want at most 7", tries)
	}
}

// flaky fails every document of its first n batches with a transient error
// (a timestamp authority that is down), then signs with next. It notes the
// time of each call on clock; failed, if set, runs before a failure is
// returned.
type flaky struct {
	signing.Backend
	clock  clockwork.Clock
	failed func(call int)
	mu     sync.Mutex
	n      int
	calls  []time.Time
}

func (f *flaky) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	op, err := f.Backend.Submit(ctx, b)
	f.mu.Lock()
	f.calls = append(f.calls, f.clock.Now())
	call := len(f.calls)
	fail := err == nil && call <= f.n
	f.mu.Unlock()
	if fail {
		for i := range op.Results {
			op.Results[i].Err = &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient, Message: "timestamp authority unreachable"}
		}
		if f.failed != nil {
			f.failed(call)
		}
	}
	return op, err
}

// A document failing transiently is retried after growing waits counted
// in the ledger, with one warning, and one line when it is signed at last.
// The agent runs on a jumpClock: the waits are measured on it and take no
// wall time.
func TestTransientRetriesBackOff(t *testing.T) {
	t.Parallel()
	fl := &flaky{n: 2}
	e := newEnv(t, func(f *agent.Folder) {
		f.Backend, f.Opts, f.MaxWait = fl, signing.Options{Type: signing.TypeCAdES}, 10*time.Millisecond
		f.Watch.Settle, f.Watch.ScanInterval = 20*time.Millisecond, 100*time.Millisecond
	})
	fl.Backend = e.local
	clock := e.jumpTime()
	fl.clock = clock
	// The clock stops at the first failure, so the document's wait lasts
	// until status has been looked at.
	fl.failed = func(call int) {
		if call == 1 {
			clock.pause()
		}
	}
	defer clock.resume()
	e.start()
	e.drop("a.txt", []byte("hello"))
	// While it waits, status names it with its attempts and next attempt.
	var retrying []signagent.Retry
	e.waitFor("status listing the document as retrying", func() bool {
		st, err := e.db.Status(context.Background(), []string{"invoices"})
		if err != nil {
			t.Fatal(err)
		}
		retrying = st.Folders[0].Retrying
		return len(retrying) > 0
	})
	fl.mu.Lock()
	first := fl.calls[0]
	fl.mu.Unlock()
	if r := retrying[0]; len(retrying) != 1 || r.File != "a.txt" || r.Attempts != 1 ||
		r.NextAttempt.Before(first.Add(agent.RetryWait(1, 0))) || r.NextAttempt.After(first.Add(agent.RetryWait(1, 1))) {
		t.Errorf("status retrying %+v, want a.txt after 1 attempt, next in [%s, %s] after the first",
			retrying, agent.RetryWait(1, 0), agent.RetryWait(1, 1))
	}
	clock.resume()
	e.waitFor("a.txt signed", func() bool { return exists(filepath.Join(e.outbox, "a.txt.p7s")) })
	fl.mu.Lock()
	calls := slices.Clone(fl.calls)
	fl.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d submissions, want 3 (two failures, one success)", len(calls))
	}
	// Waits of retryWait(1) and retryWait(2) on the agent's clock:
	// 0.25–0.75 s, then 0.5–1.5 s (and at most max_wait more in the batcher).
	for i, g := range []time.Duration{calls[1].Sub(calls[0]), calls[2].Sub(calls[1])} {
		lo, hi := agent.RetryWait(i+1, 0), agent.RetryWait(i+1, 1)+e.folder.MaxWait
		if g < lo || g > hi {
			t.Errorf("wait before attempt %d: %s, want [%s, %s]", i+2, g, lo, hi)
		}
	}
	d, err := e.db.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 2 {
		t.Errorf("ledger attempts = %d, want 2", d.Attempts)
	}
	text := e.logs.String()
	if n := strings.Count(text, "will retry with growing waits"); n != 1 {
		t.Errorf("%d retry warnings, want 1:\n%s", n, text)
	}
	if !strings.Contains(text, "document signed after failed attempts") {
		t.Errorf("no line when the document was signed at last:\n%s", text)
	}
}
