package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

// fakeBackend is a signing.Backend made of function fields, for tests of
// the pipeline's state machine. A nil field signs with the local signer (a
// real signature the output check accepts). It counts the calls.
type fakeBackend struct {
	local  *signer.Local
	submit func(ctx context.Context, b *signing.Batch) (*signing.Operation, error)
	poll   func(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error)
	lookup func(ctx context.Context, b *signing.Batch) (*signing.Operation, error)

	mu    sync.Mutex
	calls []string // "submit <ref>", "poll <ref>", "lookup <ref>", in order
}

var _ signing.Backend = (*fakeBackend)(nil)

func (f *fakeBackend) Name() string { return "fake" }

func (f *fakeBackend) note(call string, b *signing.Batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call+" "+b.Ref)
}

func (f *fakeBackend) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	f.note("submit", b)
	if f.submit != nil {
		return f.submit(ctx, b)
	}
	return f.local.Submit(ctx, b)
}

func (f *fakeBackend) Poll(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
	f.note("poll", b)
	if f.poll != nil {
		return f.poll(ctx, b, op)
	}
	return f.local.Poll(ctx, b, op)
}

func (f *fakeBackend) Lookup(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	f.note("lookup", b)
	if f.lookup != nil {
		return f.lookup(ctx, b)
	}
	return nil, signing.ErrNotFound
}

// count returns how many calls of kind ("submit", "poll", "lookup") were made.
func (f *fakeBackend) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if len(c) > len(kind) && c[:len(kind)+1] == kind+" " {
			n++
		}
	}
	return n
}

func (f *fakeBackend) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var (
	stepLocalOnce sync.Once
	stepLocalDir  string
	stepLocalErr  error
)

// stepEnv is one runner over temp folders, a real ledger, a fake backend
// and a fake clock; no watcher runs: documents are claimed by the test.
type stepEnv struct {
	t     *testing.T
	clock *clockwork.FakeClock
	db    *ledger.DB
	fb    *fakeBackend
	r     *runner
}

func newStepEnv(t *testing.T) *stepEnv {
	t.Helper()
	stepLocalOnce.Do(func() { stepLocalDir, stepLocalErr = os.MkdirTemp("", "signagent-step-test-") })
	if stepLocalErr != nil {
		t.Fatal(stepLocalErr)
	}
	dir := t.TempDir()
	clock := clockwork.NewFakeClock()
	db, err := ledger.Open(filepath.Join(dir, "data", "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Now = clock.Now
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	local, err := signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev", DataDir: stepLocalDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBackend{local: local}
	a := &Agent{Ledger: db, Clock: clock, Logger: log}
	a.defaults()
	f := &Folder{Name: "invoices", Inbox: filepath.Join(dir, "inbox"), Outbox: filepath.Join(dir, "outbox"),
		Error: filepath.Join(dir, "error"), Backend: fb, Opts: signing.Options{Type: signing.TypeAuto},
		Watch: watcher.Config{Include: []string{"*.txt"}}}
	r, err := a.newRunner(f)
	if err != nil {
		t.Fatal(err)
	}
	return &stepEnv{t: t, clock: clock, db: db, fb: fb, r: r}
}

// batch claims a document per name (content "<name> content") and records
// them as one batch, as the folder loop does.
func (e *stepEnv) batch(names ...string) *ledger.Batch {
	e.t.Helper()
	ctx := context.Background()
	var items []*item
	for _, name := range names {
		p := filepath.Join(e.r.f.Inbox, name)
		if err := os.WriteFile(p, []byte(name+" content\n"), 0o644); err != nil {
			e.t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			e.t.Fatal(err)
		}
		e.r.claim(ctx, []watcher.File{{Path: p, Rel: name, Size: fi.Size(), ModTime: fi.ModTime()}})
		select {
		case it := <-e.r.queue:
			items = append(items, it)
		default:
			e.t.Fatalf("%s was not claimed", name)
		}
	}
	lb, err := e.r.createBatch(ctx, items)
	if err != nil {
		e.t.Fatal(err)
	}
	return lb
}

// process runs the batch through r.process to its end. Whenever process
// waits on the clock, the clock jumps forward by step (longer than any
// wait of the agent's schedule, so each wait ends in one jump); it returns
// how many jumps there were.
func (e *stepEnv) process(lb *ledger.Batch, resumed bool) int {
	e.t.Helper()
	return e.processFor(lb, resumed, 200)
}

// processFor is process, stopped after max jumps of the clock: a test
// failure unless the test expects the batch to wait for ever.
func (e *stepEnv) processFor(lb *ledger.Batch, resumed bool, max int) int {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.r.process(ctx, lb, resumed, func() {})
	}()
	waiting, stop := context.WithCancel(ctx)
	go func() { <-done; stop() }()
	jumps := 0
	for {
		if err := e.clock.BlockUntilContext(waiting, 1); err != nil {
			return jumps
		}
		if jumps++; jumps > max {
			cancel()
			<-done
			if max == 200 {
				e.t.Fatalf("process still waiting after %d waits; calls: %v", jumps, e.fb.log())
			}
			return jumps
		}
		e.clock.Advance(10 * time.Minute)
	}
}

// doc returns the ledger record of the document called rel.
func (e *stepEnv) doc(rel string) *ledger.Doc {
	e.t.Helper()
	for id := int64(1); id < 100; id++ {
		d, err := e.db.Get(context.Background(), id)
		if err == nil && d.Rel == rel {
			return d
		}
	}
	e.t.Fatalf("%s not in the ledger", rel)
	return nil
}

func (e *stepEnv) batchState(id int64) string {
	e.t.Helper()
	bs, err := e.db.OpenBatches(context.Background(), e.r.f.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, b := range bs {
		if b.ID == id {
			return b.State
		}
	}
	return ledger.BatchDone
}

func transient(msg string) error {
	return &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient, Message: msg}
}

// TestStepUnknownSendIsLookedUp: a send that fails without an answer may
// have been taken, so the next call is a look-up, never a second submit;
// failed look-ups are retried (with the failure backoff) until one finds
// the operation, which is then published.
func TestStepUnknownSendIsLookedUp(t *testing.T) {
	e := newStepEnv(t)
	var accepted *signing.Operation // what the backend took despite the reset
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		op, err := e.fb.local.Submit(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		accepted = op
		return nil, transient("connection reset after the request was sent")
	}
	lookups := 0
	e.fb.lookup = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		if lookups++; lookups <= 2 {
			return nil, transient("look-up timed out")
		}
		if accepted == nil || b.Ref != accepted.Ref {
			t.Errorf("looked up %q; the send was %v", b.Ref, accepted)
		}
		return accepted, nil
	}
	lb := e.batch("a.txt", "b.txt")
	jumps := e.process(lb, false)

	if got := e.fb.count("submit"); got != 1 {
		t.Errorf("%d submits, want 1 (calls %v)", got, e.fb.log())
	}
	if got := e.fb.count("lookup"); got != 3 {
		t.Errorf("%d look-ups, want 3: two failures retried, then found (calls %v)", got, e.fb.log())
	}
	if jumps != 3 {
		t.Errorf("%d waits on the clock, want 3 (after the send and each failed look-up)", jumps)
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		if d := e.doc(name); d.State != signagent.StatePublished {
			t.Errorf("%s is %s, want published", name, d.State)
		}
		if _, err := os.Stat(filepath.Join(e.r.f.Outbox, name+".p7s")); err != nil {
			t.Errorf("%s: no signature in the outbox: %v", name, err)
		}
	}
	if st := e.batchState(lb.ID); st != ledger.BatchDone {
		t.Errorf("batch %s, want done", st)
	}
}

// TestStepResumedBatchIsLookedUp: a batch found open after a restart, with
// no recorded operation, may have been sent: it is looked up first; only a
// proof of absence lets it be sent, under a new reference.
func TestStepResumedBatchIsLookedUp(t *testing.T) {
	e := newStepEnv(t)
	lb := e.batch("a.txt")
	first := lb.Ref
	e.process(lb, true)
	calls := e.fb.log()
	if len(calls) != 2 || calls[0] != "lookup "+first || calls[1] == "submit "+first || calls[1][:7] != "submit " {
		t.Errorf("calls %v, want a look-up of %s, then a submit under a new reference", calls, first)
	}
	if d := e.doc("a.txt"); d.State != signagent.StatePublished {
		t.Errorf("a.txt is %s, want published", d.State)
	}
}

// TestStepVanishedOperationIsLookedUp: an operation the backend no longer
// knows when polled is looked up before the batch is sent again.
func TestStepVanishedOperationIsLookedUp(t *testing.T) {
	e := newStepEnv(t)
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		if e.fb.count("submit") == 1 {
			return &signing.Operation{ID: "op-1", Ref: b.Ref}, nil // accepted, pending
		}
		return e.fb.local.Submit(ctx, b)
	}
	e.fb.poll = func(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
		return nil, signing.ErrNotFound // the instance restarted
	}
	lb := e.batch("a.txt")
	first := lb.Ref
	e.process(lb, false)
	calls := e.fb.log()
	want := []string{"submit " + first, "poll " + first, "lookup " + first}
	if len(calls) != 4 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] || calls[3] == "submit "+first {
		t.Errorf("calls %v, want %v then a submit under a new reference", calls, want)
	}
	if d := e.doc("a.txt"); d.State != signagent.StatePublished {
		t.Errorf("a.txt is %s, want published", d.State)
	}
}

// TestStepDocumentErrorFailsThatDocument: a result that rejects one
// document sends that document to error/ with its code; the others of the
// batch are published and the folder is not held.
func TestStepDocumentErrorFailsThatDocument(t *testing.T) {
	e := newStepEnv(t)
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		op, err := e.fb.local.Submit(ctx, b)
		if err != nil {
			return nil, err
		}
		for i := range op.Results {
			if b.Docs[i].Name == "bad.txt" {
				os.Remove(b.Docs[i].Out)
				op.Results[i] = signing.Result{Ref: b.Docs[i].Ref,
					Err: signagent.DocError(signagent.CodeSigningError, "the service refused this document", "")}
			}
		}
		return op, nil
	}
	lb := e.batch("good.txt", "bad.txt", "fine.txt")
	if jumps := e.process(lb, false); jumps != 0 {
		t.Errorf("%d waits: a document error needs none", jumps)
	}
	for _, name := range []string{"good.txt", "fine.txt"} {
		if d := e.doc(name); d.State != signagent.StatePublished {
			t.Errorf("%s is %s, want published", name, d.State)
		}
	}
	bad := e.doc("bad.txt")
	if bad.State != signagent.StateFailed || bad.ErrCode != signagent.CodeSigningError {
		t.Errorf("bad.txt is %s (%s), want failed with SIGNING_ERROR", bad.State, bad.ErrCode)
	}
	if _, err := os.Stat(filepath.Join(e.r.f.Error, "bad.txt.error.json")); err != nil {
		t.Errorf("no error file for bad.txt: %v", err)
	}
	if e.r.heldBy.Load() != 0 {
		t.Error("a document's error held the folder")
	}
	if got := e.fb.count("submit"); got != 1 {
		t.Errorf("%d submits, want 1", got)
	}
}

// TestStepConfigErrorHolds: an account refusal holds the folder (recorded
// in the ledger, no document fails) and, since it proves nothing was
// taken, the batch is submitted again after the hold's wait, not looked
// up; the first success releases the folder.
func TestStepConfigErrorHolds(t *testing.T) {
	e := newStepEnv(t)
	var heldAt []string
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		if n := e.fb.count("submit"); n <= 2 {
			if n == 2 {
				st, err := e.db.Status(ctx, []string{e.r.f.Name})
				if err != nil {
					t.Fatal(err)
				}
				heldAt = append(heldAt, st.Folders[0].Held)
			}
			return nil, &signagent.Error{Kind: signagent.KindConfig, Code: signagent.CodeConfig, Message: "client service inactive"}
		}
		return e.fb.local.Submit(ctx, b)
	}
	lb := e.batch("a.txt", "b.txt")
	jumps := e.process(lb, false)
	if got := e.fb.count("submit"); got != 3 || e.fb.count("lookup") != 0 {
		t.Errorf("calls %v, want 3 submits and no look-up", e.fb.log())
	}
	if jumps != 2 {
		t.Errorf("%d waits, want 2 (one hold wait per refusal)", jumps)
	}
	if len(heldAt) != 1 || heldAt[0] == "" {
		t.Errorf("the folder was not recorded as held while refused: %q", heldAt)
	}
	for _, name := range []string{"a.txt", "b.txt"} {
		if d := e.doc(name); d.State != signagent.StatePublished || d.Attempts != 0 {
			t.Errorf("%s is %s after %d failed attempts, want published with none", name, d.State, d.Attempts)
		}
	}
	st, err := e.db.Status(context.Background(), []string{e.r.f.Name})
	if err != nil {
		t.Fatal(err)
	}
	if st.Folders[0].Held != "" || e.r.heldBy.Load() != 0 {
		t.Errorf("still held after a success: %q", st.Folders[0].Held)
	}
}

// TestStepGivesUp: transient failures past give_up_after fail the batch's
// documents as GAVE_UP, on the agent's clock.
func TestStepGivesUp(t *testing.T) {
	e := newStepEnv(t)
	e.r.f.GiveUpAfter = time.Hour
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return nil, &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient, Message: "503", RetryAfter: 20 * time.Minute}
	}
	e.fb.lookup = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return nil, signing.ErrNotFound
	}
	lb := e.batch("a.txt")
	e.process(lb, false)
	if d := e.doc("a.txt"); d.State != signagent.StateFailed || d.ErrCode != signagent.CodeGaveUp {
		t.Errorf("a.txt is %s (%s), want failed as GAVE_UP", d.State, d.ErrCode)
	}
}

// TestStepUnsettledLookupIsNeverGivenUp: look-ups that can never tell
// whether a send was taken (a balancer without listed instances) go on past
// give_up_after: failing the documents could lose a signed one, sending
// again could sign it twice. They are neither failed nor sent again.
func TestStepUnsettledLookupIsNeverGivenUp(t *testing.T) {
	e := newStepEnv(t)
	e.r.f.GiveUpAfter = time.Hour
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return nil, transient("connection reset after the request was sent")
	}
	e.fb.lookup = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return nil, transient("outcome unknown: an instance behind the balancer does not know the batch")
	}
	lb := e.batch("a.txt")
	e.processFor(lb, false, 50) // 50 waits of 10 minutes: past give_up_after
	if d := e.doc("a.txt"); d.State.Terminal() {
		t.Errorf("a.txt is %s (%s) while the outcome is unknown, want it waiting", d.State, d.ErrCode)
	}
	if got := e.fb.count("submit"); got != 1 || e.fb.count("lookup") < 10 {
		t.Errorf("%d submits and %d look-ups, want 1 submit, then look-ups only", got, e.fb.count("lookup"))
	}
	if st := e.batchState(lb.ID); st == ledger.BatchDone {
		t.Error("the batch was closed while its outcome is unknown")
	}
}

// TestStepLostOperationsWaitForADecision: a backend that takes a batch and
// then forgets it (an instance restarting between the send and the poll)
// answers every look-up "not found", yet each send may have been signed.
// The batch is sent again maxLost times at most, then waits for an
// operator's decision, still looked up, never sent again on its own (it
// was sent 74 times, each signed, in a run of the emulator's restart
// fault); the operator's "resend" sends it again.
func TestStepLostOperationsWaitForADecision(t *testing.T) {
	e := newStepEnv(t)
	e.fb.submit = func(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
		return &signing.Operation{ID: "op-" + b.Ref, Ref: b.Ref}, nil // taken, pending
	}
	e.fb.poll = func(ctx context.Context, b *signing.Batch, op *signing.Operation) (*signing.Operation, error) {
		return nil, signing.ErrNotFound // the instance restarted and forgot it
	}
	lb := e.batch("a.txt")
	e.processFor(lb, false, 20)
	if got := e.fb.count("submit"); got != maxLost {
		t.Errorf("%d submits, want %d then a wait for a decision; calls %v", got, maxLost, e.fb.log())
	}
	if e.fb.count("lookup") < maxLost+3 {
		t.Errorf("%d look-ups: a batch waiting for a decision is still looked up", e.fb.count("lookup"))
	}
	if st := e.batchState(lb.ID); st != ledger.BatchUnknown {
		t.Errorf("batch is %s, want %s (waiting for a decision)", st, ledger.BatchUnknown)
	}
	if d := e.doc("a.txt"); d.State.Terminal() {
		t.Errorf("a.txt is %s, want it waiting", d.State)
	}

	// Resumed after a restart, it still waits.
	e.processFor(lb, true, 5)
	if got := e.fb.count("submit"); got != maxLost {
		t.Errorf("after a restart: %d submits, want still %d", got, maxLost)
	}

	// The operator decides to send it again: it is, and signed this time.
	if _, err := e.db.Resolve(context.Background(), fmt.Sprint(lb.ID), ledger.DecisionResend); err != nil {
		t.Fatal(err)
	}
	e.fb.submit, e.fb.poll = nil, nil
	bs, err := e.db.OpenBatches(context.Background(), e.r.f.Name)
	if err != nil || len(bs) != 1 {
		t.Fatalf("open batches %v, %v", bs, err)
	}
	e.process(bs[0], true)
	if d := e.doc("a.txt"); d.State != signagent.StatePublished {
		t.Errorf("after the operator's resend: a.txt is %s, want published", d.State)
	}
}
