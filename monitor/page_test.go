package monitor

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

// fakeActions records the actions the page asks for.
type fakeActions struct {
	mu       sync.Mutex
	rechecks []string
	retries  [][]string
}

var _ Actions = (*fakeActions)(nil)

func (f *fakeActions) Recheck(folder string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if folder != "credit-notes" {
		return errors.New("the folder is not held")
	}
	f.rechecks = append(f.rechecks, folder)
	return nil
}

func (f *fakeActions) Retry(ctx context.Context, folder string, rels ...string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retries = append(f.retries, append([]string{folder}, rels...))
	return max(len(rels), 1), nil
}

func pageFixture(actions Actions) (*Server, time.Time) {
	st := sampleStatus()
	now := st.Time
	st.Folders[1].Held = "the client service is inactive (hint: activate it in the portal)"
	st.Folders[1].InFlight = []signagent.Operation{{Batch: "b-7", Backend: "multicert", Docs: 4, Submitted: now.Add(-time.Minute)}}
	fs := &fakeStatus{st: st}
	p := &Page{
		Info: &AgentInfo{Version: "v1.2.3", PID: 4242, Started: now.Add(-3 * time.Hour), ConfigFile: "/etc/signagent/signagent.toml",
			Backends: []BackendInfo{
				{Name: "local", Type: "local", Subject: "CN=signagent development signer (NOT TRUSTED)", Issuer: "CN=signagent development CA",
					NotAfter: now.Add(3650 * 24 * time.Hour), Dev: true},
				{Name: "company", Type: "local", Subject: "CN=ACME Lda", Issuer: "CN=Qualified CA", NotAfter: now.Add(10 * 24 * time.Hour)},
				{Name: "multicert", Type: "signstash", Note: "held by the signing service"},
			}},
		Live: func(context.Context) ([]FolderLive, error) {
			return []FolderLive{
				{Name: "invoices", Inbox: 12, InboxOldest: now.Add(-5 * time.Minute), InboxOldestRel: "in/first.pdf",
					Failed: []FailedDoc{{File: "bad.pdf", ErrorFile: "bad.pdf.error.json", Code: "NOT_A_PDF",
						Message: "the file is not a PDF <script>", Hint: "export it again as PDF", FailedAt: now.Add(-time.Hour)}},
					FailedTotal: 1},
				{Name: "credit-notes", HeldSince: now.Add(-20 * time.Minute), NextRecheck: now.Add(90 * time.Second)},
			}, nil
		},
		Actions: actions,
		Rate:    func(folder string) float64 { return map[string]float64{"invoices": 12.5}[folder] },
		Now:     func() time.Time { return now },
	}
	return &Server{Status: fs.get, Page: p}, now
}

// text strips tags, so assertions read what a person reads.
func text(page string) string {
	s := regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`).ReplaceAllString(page, " ")
	return html.UnescapeString(strings.Join(strings.Fields(s), " "))
}

func TestPageShowsFoldersFailuresBatchesAgent(t *testing.T) {
	s, _ := pageFixture(&fakeActions{})
	url := startServer(t, s)
	code, hdr, body := get(t, url+"/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d\n%s", code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// "no-referrer" would make browsers post the forms with "Origin: null".
	if rp := hdr.Get("Referrer-Policy"); rp != "same-origin" {
		t.Errorf("Referrer-Policy = %q, want same-origin", rp)
	}
	txt := text(body)
	for _, want := range []string{
		"Not healthy: 1 problem(s)",
		// per folder: states, inbox, oldest, rate, held
		"invoices 0 0 3 0 0 40 1 12 oldest in/first.pdf, written 5m 0s ago a b.pdf (batched, since 1m 30s ago) 12.5 flowing",
		"credit-notes 0 0 0 0 0 7 0 0 c.xml (seen, since 30s ago) 0.0 held",
		"Folder credit-notes is held",
		"the client service is inactive (hint: activate it in the portal)",
		"Held since 2025-03-04 09:40:00 UTC (20m 0s ago). Next recheck in 1m 30s.",
		// failures
		"NOT_A_PDF the file is not a PDF <script> export it again as PDF bad.pdf.error.json",
		"Folder invoices: 1 failed document(s) in the error folder.",
		// batches
		"invoices b-1 multicert op-9 3 10s ago the backend",
		"credit-notes b-7 multicert 4 1m 0s ago an operator: the folder is held",
		// agent
		"v1.2.3", "pid 4242, up 3h 0m ago", "/etc/signagent/signagent.toml",
		"CN=signagent development signer (NOT TRUSTED)", "development certificate: signatures are NOT trusted",
		"CN=ACME Lda CN=Qualified CA 2025-03-14 expires in 10 days: renew it",
		"held by the signing service",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("page lacks %q\n%s", want, txt)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a failure message reached the page unescaped")
	}
	if n := strings.Count(body, `name="token" value="`+s.Page.Token()+`"`); n != 3 {
		t.Errorf("token in %d forms, want 3 (recheck, retry, retry all)", n)
	}
	if len(s.Page.Token()) != 64 {
		t.Errorf("token %q: want 32 random bytes in hex", s.Page.Token())
	}
}

func post(t *testing.T, target string, form url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPageActionsRefuseCrossSiteRequests(t *testing.T) {
	fa := &fakeActions{}
	s, _ := pageFixture(fa)
	base := startServer(t, s)
	host := strings.TrimPrefix(base, "http://")
	tok := s.Page.Token()
	good := url.Values{"token": {tok}, "folder": {"credit-notes"}}
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  map[string]string
		want string
	}{
		{"no token", url.Values{"folder": {"credit-notes"}}, nil, "page token"},
		{"wrong token", url.Values{"token": {strings.Repeat("0", 64)}, "folder": {"credit-notes"}}, nil, "page token"},
		{"other origin", good, map[string]string{"Origin": "https://evil.example"}, "cross-site request from origin"},
		{"null origin", good, map[string]string{"Origin": "null"}, "cross-site"},
		{"cross-site fetch", good, map[string]string{"Sec-Fetch-Site": "cross-site"}, "cross-site request"},
		{"rebound name", good, map[string]string{"Host": "evil.example:" + strings.Split(host, ":")[1]}, "not this machine"},
	} {
		resp, body := post(t, base+"/actions/recheck", tc.form, tc.hdr)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want 403 naming %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	if len(fa.rechecks) != 0 {
		t.Fatalf("refused requests reached the agent: %v", fa.rechecks)
	}

	// The page's own form: same origin, its token.
	resp, _ := post(t, base+"/actions/recheck", good, map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("recheck: %d, want 303", resp.StatusCode)
	}
	if len(fa.rechecks) != 1 || fa.rechecks[0] != "credit-notes" {
		t.Errorf("rechecks = %v", fa.rechecks)
	}
	loc := resp.Header.Get("Location")
	_, _, page := get(t, base+loc)
	if !strings.Contains(text(page), `folder "credit-notes": recheck started`) {
		t.Errorf("page after recheck lacks the outcome:\n%s", text(page))
	}
	// Shown once.
	if _, _, page := get(t, base+loc); strings.Contains(page, "recheck started") {
		t.Error("the outcome is shown again on reload")
	}
	// An action that fails says why.
	resp, _ = post(t, base+"/actions/recheck", url.Values{"token": {tok}, "folder": {"invoices"}}, map[string]string{"Origin": base})
	if _, _, page := get(t, base+resp.Header.Get("Location")); !strings.Contains(text(page), `recheck of folder "invoices": the folder is not held`) {
		t.Errorf("failed recheck not reported:\n%s", text(page))
	}
	// Retry of one file, then of all, without an Origin (curl with the token).
	post(t, base+"/actions/retry", url.Values{"token": {tok}, "folder": {"invoices"}, "file": {"bad.pdf"}}, nil)
	post(t, base+"/actions/retry", url.Values{"token": {tok}, "folder": {"invoices"}}, map[string]string{"Host": "localhost:" + strings.Split(host, ":")[1]})
	if got := fa.retries; len(got) != 2 || strings.Join(got[0], ",") != "invoices,bad.pdf" || strings.Join(got[1], ",") != "invoices" {
		t.Errorf("retries = %v", got)
	}
	// A program asks for JSON: the outcome, no redirect.
	resp, body := post(t, base+"/actions/recheck", good, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusOK || body != `{"message":"folder \"credit-notes\": recheck started"}`+"\n" {
		t.Errorf("JSON recheck: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, base+"/actions/recheck", url.Values{"token": {tok}, "folder": {"invoices"}}, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `"error":"recheck of folder \"invoices\": the folder is not held"`) {
		t.Errorf("JSON failed recheck: %d %s", resp.StatusCode, body)
	}
	// GET never acts.
	if code, _, _ := get(t, base+"/actions/retry"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /actions/retry: %d, want 405", code)
	}
}

func TestPageWithoutActions(t *testing.T) {
	s, _ := pageFixture(nil)
	base := startServer(t, s)
	_, _, body := get(t, base+"/")
	if strings.Contains(body, "<form") || strings.Contains(body, s.Page.Token()) {
		t.Error("page offers actions although they are disabled")
	}
	if !strings.Contains(text(body), "Actions are disabled ( ui_actions = false )") {
		t.Error("page does not say actions are disabled")
	}
	resp, body := post(t, base+"/actions/retry", url.Values{"token": {s.Page.Token()}, "folder": {"invoices"}}, map[string]string{"Origin": base})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "disabled") {
		t.Errorf("POST with actions disabled: %d %q", resp.StatusCode, body)
	}
}

func TestPageWithoutStatus(t *testing.T) {
	s, _ := pageFixture(nil)
	s.Status = (&fakeStatus{err: errors.New("ledger closed")}).get
	base := startServer(t, s)
	code, _, body := get(t, base+"/")
	if code != http.StatusOK || !strings.Contains(text(body), "status unavailable: ledger closed") {
		t.Errorf("GET / with a failing status: %d\n%s", code, text(body))
	}
}

func TestPerMinute(t *testing.T) {
	start := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	now := start
	m := NewMetrics()
	m.now = func() time.Time { return now }
	m.rates.started = start
	now = start.Add(30 * time.Second)
	for range 15 {
		m.Transition("invoices", signagent.StatePublished)
		m.Transition("invoices", signagent.StateClaimed) // not a publication
	}
	now = start.Add(time.Minute)
	if got := m.PerMinute("invoices"); got != 15 {
		t.Errorf("after 1 min: %v/min, want 15", got)
	}
	now = start.Add(5 * time.Minute)
	if got := m.PerMinute("invoices"); got != 3 {
		t.Errorf("after 5 min: %v/min, want 3 (15 over the 5-minute window)", got)
	}
	now = start.Add(6 * time.Minute)
	if got := m.PerMinute("invoices"); got != 0 {
		t.Errorf("after the window: %v/min, want 0", got)
	}
	if got := m.PerMinute("other"); got != 0 {
		t.Errorf("unknown folder: %v", got)
	}
}
