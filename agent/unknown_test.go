package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signstash"
)

// answer makes a response the emulator did not send, as a balancer or the
// path between agent and proxy would.
func answer(r *http.Request, code int) *http.Response {
	body := `{"errorCode":"0.0.1","errorCodeDescription":"Unhandled error.","causeMessage":"injected between agent and proxy"}`
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
}

// TestSignStashOutcomeUnknownWaitsForADecision: behind a balancer whose
// instances are not listed, a send answered 502 leaves an outcome no
// look-up can settle. The agent keeps looking up (it never sends again on
// its own), after outcome_unknown_after shows the batch in status as
// waiting for a decision, and carries out the operator's decision:
// resend (the service never had it: each document is then signed once and
// published) or fail (the service signed it: the documents go to error/ as
// OUTCOME_UNKNOWN and are not signed again), while the agent runs or after
// a restart.
func TestSignStashOutcomeUnknownWaitsForADecision(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		decision string
		// reached: the lost send reached the service (which signed it),
		// and look-ups are refused on the way; otherwise it never got
		// there and look-ups find nothing.
		reached bool
		stopped bool // decide while the agent is stopped
	}{
		{"resend", ledger.DecisionResend, false, false},
		{"fail", ledger.DecisionFail, true, false},
		{"fail/stopped", ledger.DecisionFail, true, true},
		{"resend/stopped", ledger.DecisionResend, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSimEnv(t, simOpts{unlisted: true, jump: true, client: func(c *signstash.Config) { c.Mode = signstash.ModeSync },
				folder: func(f *agent.Folder) { f.InFlight = 1 }})
			var mu sync.Mutex
			lost := false
			e.wire.inject = func(r *http.Request) *http.Response {
				if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/document/sign") {
					mu.Lock()
					first := !lost
					lost = true
					mu.Unlock()
					if !first {
						return nil
					}
					if tc.reached {
						if resp, err := e.wire.base.RoundTrip(r); err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}
					return answer(r, http.StatusBadGateway)
				}
				if tc.reached && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "withDocumentExternalReference") {
					return answer(r, http.StatusServiceUnavailable)
				}
				return nil
			}
			all := uniquePDFs(t, 3)
			first, rest := map[string][]byte{}, map[string][]byte{}
			for name, data := range all {
				if len(first) == 0 {
					first[name] = data
				} else {
					rest[name] = data
				}
			}
			start := func() { e.startWith(func(a *agent.Agent) { a.OutcomeUnknownAfter = 10 * time.Minute }) }
			start()
			e.dropAll(first)
			ctx := context.Background()
			var waiting []signagent.UnknownBatch
			e.waitFor("a batch waiting for a decision", func() bool {
				st, err := e.a.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				waiting = st.Folders[0].OutcomeUnknown
				return len(waiting) > 0
			})
			if len(waiting) != 1 || waiting[0].Docs != 1 || waiting[0].Since.IsZero() || waiting[0].Decision != "" {
				t.Fatalf("status lists %+v, want the one batch of 1 document, since when, no decision yet", waiting)
			}
			if !strings.Contains(e.logs.String(), "waits for an operator's decision") {
				t.Error("the log does not say the batch waits for a decision")
			}
			sends := func() int {
				e.wire.mu.Lock()
				defer e.wire.mu.Unlock()
				return e.wire.sends
			}
			if n := sends(); n != 1 {
				t.Fatalf("%d sends before the decision: the batch was sent again blindly", n)
			}
			if got := files(e.outbox); len(got) != 0 {
				t.Fatalf("published while the outcome was unknown: %v", got)
			}
			if got := files(e.errDir); len(got) != 0 {
				t.Fatalf("failed while the outcome was unknown: %v", got)
			}
			// The folder flows meanwhile (with one batch in flight at a
			// time, the waiting batch would otherwise block it).
			e.dropAll(rest)
			e.waitFor("the later documents published", func() bool {
				for name := range rest {
					if !exists(filepath.Join(e.outbox, name)) {
						return false
					}
				}
				return true
			})
			before := sends()
			if st, err := e.a.Status(ctx); err != nil || len(st.Folders[0].OutcomeUnknown) != 1 {
				t.Fatalf("the batch no longer waits before any decision: %+v %v", st, err)
			}
			docs := all
			if tc.stopped {
				e.stop()
			}
			if _, err := e.db.Resolve(ctx, waiting[0].Ref, "maybe"); err == nil {
				t.Error("Resolve took an unknown decision")
			}
			ub, err := e.db.Resolve(ctx, fmt.Sprint(waiting[0].ID), tc.decision)
			if err != nil || ub.Ref != waiting[0].Ref {
				t.Fatalf("Resolve: %+v, %v", ub, err)
			}
			if tc.stopped {
				start()
			}
			e.settled(docs)
			published, failed := e.accounted(docs)
			signed := e.signedByDoc()
			if tc.decision == ledger.DecisionResend {
				if len(published) != len(docs) || sends() != before+1 {
					t.Errorf("%d published, %d failed, %d sends after the decision; want all published after one more send", len(published), len(failed), sends()-before)
				}
				e.onceEach(published, failed, false)
			} else {
				if len(failed) != len(first) || len(published) != len(rest) || sends() != before {
					t.Errorf("%d published, %d failed, %d sends after the decision; want the waiting batch failed, the others published, no other send", len(published), len(failed), sends()-before)
				}
				for _, f := range failed {
					if ef := e.errorFile(f); ef.Code != signagent.CodeOutcomeUnknown {
						t.Errorf("%s failed as %s (%s), want OUTCOME_UNKNOWN", f, ef.Code, ef.Message)
					}
				}
				ids := e.docIDs()
				for _, f := range failed {
					if n := signed[ids[f]]; n != 1 {
						t.Errorf("%s signed %d times by the service, want once (the lost send)", f, n)
					}
				}
			}
			// The batch is closed just after its documents end.
			e.waitFor("status no longer listing the batch as waiting for a decision", func() bool {
				st, err := e.a.Status(ctx)
				return err == nil && len(st.Folders[0].OutcomeUnknown) == 0
			})
			if _, err := e.db.Resolve(ctx, waiting[0].Ref, tc.decision); err == nil {
				t.Error("a batch no longer waiting took a second decision")
			}
		})
	}
}
