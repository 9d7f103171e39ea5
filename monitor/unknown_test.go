package monitor

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

// TestBatchesAwaitingDecision: a batch whose outcome stayed unknown makes
// the agent unhealthy until an operator decides, and the page lists it with
// the command that decides; once decided, it shows the decision.
func TestBatchesAwaitingDecision(t *testing.T) {
	s, now := pageFixture(&fakeActions{})
	st := sampleStatus()
	st.Folders[0].OutcomeUnknown = []signagent.UnknownBatch{{ID: 12, Folder: "invoices", Ref: "20261130-ab-12", Docs: 3,
		Since: now.Add(-2 * time.Hour)}}
	fs := &fakeStatus{st: st}
	s.Status = fs.get
	url := startServer(t, s)

	code, _, body := get(t, url+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body,
		`folder "invoices": batch 12 (20261130-ab-12): outcome unknown since 2025-03-04T08:00:00Z, waits for an operator's decision (signagent resolve)`) {
		t.Errorf("/healthz: %d %q", code, body)
	}
	_, _, page := get(t, url+"/")
	txt := text(page)
	for _, want := range []string{
		"Not healthy: 1 problem(s)",
		"Batches awaiting a decision",
		"invoices 12 20261130-ab-12 3 2025-03-04 08:00:00 UTC (2h 0m ago) waiting : signagent resolve 12 --resend (not taken: send again) or --fail",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("page lacks %q\n%s", want, txt)
		}
	}

	fs.mu.Lock()
	st.Folders[0].OutcomeUnknown[0].Decision = "fail"
	fs.mu.Unlock()
	if code, _, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz once decided: %d %q", code, body)
	}
	_, _, page = get(t, url+"/")
	if txt := text(page); !strings.Contains(txt, "invoices 12 20261130-ab-12 3 2025-03-04 08:00:00 UTC (2h 0m ago) fail, carried out by the agent") {
		t.Errorf("page once decided:\n%s", txt)
	}
}
