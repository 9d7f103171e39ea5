package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/signagent/signagent"
)

// fakeStatus is a status source whose report tests change between requests.
type fakeStatus struct {
	mu  sync.Mutex
	st  *signagent.Status
	err error
}

func (f *fakeStatus) get(ctx context.Context) (*signagent.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	// Hand out a copy through JSON so handlers never share our value.
	b, _ := json.Marshal(f.st)
	var st signagent.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (f *fakeStatus) set(fn func(st *signagent.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.st)
}

func sampleStatus() *signagent.Status {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	return &signagent.Status{
		Time:        now,
		LedgerBytes: 123456,
		Folders: []signagent.FolderStatus{
			{
				Name:   "invoices",
				Counts: map[signagent.State]int{signagent.StatePublished: 40, signagent.StateBatched: 3, signagent.StateFailed: 1},
				Oldest: &signagent.Waiting{File: "a b.pdf", State: signagent.StateBatched, Since: now.Add(-90 * time.Second), Age: 90 * time.Second},
				InFlight: []signagent.Operation{{Batch: "b-1", Backend: "multicert", ID: "op-9",
					Docs: 3, Submitted: now.Add(-10 * time.Second)}},
				Failures: []signagent.Failure{{File: "bad.pdf", Code: signagent.CodeNotAPDF,
					Message: "not a PDF", FailedAt: now.Add(-time.Hour)}},
			},
			{
				Name:   "credit-notes",
				Counts: map[signagent.State]int{signagent.StatePublished: 7},
				// Oldest without Age: derived from the report's time.
				Oldest: &signagent.Waiting{File: "c.xml", State: signagent.StateSeen, Since: now.Add(-30 * time.Second)},
			},
		},
	}
}

// startServer runs s on a real loopback listener and returns its base URL.
// The test fails if the server does not shut down cleanly.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	if s.Addr == "" {
		s.Addr = "127.0.0.1:0"
	}
	ln, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, _, body := get(t, url+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the series of family name whose labels are
// exactly labels (name=value pairs), failing the test when it is missing.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric family %s missing", name)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, lp := range m.Label {
			got[lp.GetName()] = lp.GetValue()
		}
		if !reflect.DeepEqual(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("%s%v not found", name, labels)
	return 0
}

func histogramSum(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	value(t, fams, name, labels...) // fails when absent
	for _, m := range fams[name].Metric {
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			return m.Histogram.GetSampleSum()
		}
	}
	return 0
}

func TestMetricsScrape(t *testing.T) {
	fs := &fakeStatus{st: sampleStatus()}
	m := NewMetrics()
	url := startServer(t, &Server{Status: fs.get, Metrics: m})

	// Events as the pipeline would send them.
	var obs signagent.Observer = m
	for range 3 {
		obs.Transition("invoices", signagent.StateClaimed)
	}
	obs.Transition("invoices", signagent.StatePublished)
	obs.Transition("credit-notes", signagent.StateFailed)
	obs.Batch("invoices", 50, 10_000_000)
	obs.Batch("invoices", 2, 400_000)
	obs.Stage("invoices", "submit", 1500*time.Millisecond)
	obs.Stage("invoices", "submit", 500*time.Millisecond)
	obs.Stage("invoices", "settle_to_publish", 4*time.Second)
	obs.Retry("invoices")
	obs.Retry("invoices")

	fams := scrape(t, url)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"signagent_documents_total", []string{"folder", "invoices", "state", "claimed"}, 3},
		{"signagent_documents_total", []string{"folder", "invoices", "state", "published"}, 1},
		{"signagent_documents_total", []string{"folder", "credit-notes", "state", "failed"}, 1},
		{"signagent_batch_documents", []string{"folder", "invoices"}, 2}, // sample count
		{"signagent_batch_bytes", []string{"folder", "invoices"}, 2},
		{"signagent_stage_seconds", []string{"folder", "invoices", "stage", "submit"}, 2},
		{"signagent_stage_seconds", []string{"folder", "invoices", "stage", "settle_to_publish"}, 1},
		{"signagent_retries_total", []string{"folder", "invoices"}, 2},
		// Gauges from the status report.
		{"signagent_status_up", nil, 1},
		{"signagent_ledger_bytes", nil, 123456},
		{"signagent_ledger_documents", []string{"folder", "invoices", "state", "published"}, 40},
		{"signagent_ledger_documents", []string{"folder", "invoices", "state", "batched"}, 3},
		{"signagent_ledger_documents", []string{"folder", "invoices", "state", "submitted"}, 0},
		{"signagent_ledger_documents", []string{"folder", "credit-notes", "state", "published"}, 7},
		{"signagent_oldest_waiting_seconds", []string{"folder", "invoices"}, 90},
		{"signagent_oldest_waiting_seconds", []string{"folder", "credit-notes"}, 30},
		{"signagent_folder_held", []string{"folder", "invoices"}, 0},
		{"signagent_watcher_up", []string{"folder", "invoices"}, 1},
		{"signagent_in_flight_operations", []string{"folder", "invoices"}, 1},
		{"signagent_in_flight_operations", []string{"folder", "credit-notes"}, 0},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := histogramSum(t, fams, "signagent_batch_bytes", "folder", "invoices"); got != 10_400_000 {
		t.Errorf("batch bytes sum = %v, want 10400000", got)
	}
	if got := histogramSum(t, fams, "signagent_stage_seconds", "folder", "invoices", "stage", "submit"); got != 2 {
		t.Errorf("submit seconds sum = %v, want 2", got)
	}
	// Every state has a series, so dashboards never see gaps.
	if n := len(fams["signagent_ledger_documents"].Metric); n != 2*len(states) {
		t.Errorf("signagent_ledger_documents has %d series, want %d", n, 2*len(states))
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("runtime metric %s missing", name)
		}
	}

	// The gauges follow the report at each scrape.
	fs.set(func(st *signagent.Status) {
		st.Folders[0].Held = "credentials rejected"
		st.Folders[1].WatchError = "inotify: too many watches"
	})
	fams = scrape(t, url)
	if got := value(t, fams, "signagent_folder_held", "folder", "invoices"); got != 1 {
		t.Errorf("held gauge = %v after hold, want 1", got)
	}
	if got := value(t, fams, "signagent_watcher_up", "folder", "credit-notes"); got != 0 {
		t.Errorf("watcher_up = %v after watch error, want 0", got)
	}

	// A failing status source is visible, and the event metrics survive it.
	fs.mu.Lock()
	fs.err = errors.New("ledger closed")
	fs.mu.Unlock()
	fams = scrape(t, url)
	if got := value(t, fams, "signagent_status_up"); got != 0 {
		t.Errorf("status_up = %v with failing status, want 0", got)
	}
	if _, ok := fams["signagent_ledger_documents"]; ok {
		t.Error("queue gauges reported although the status source failed")
	}
	if got := value(t, fams, "signagent_retries_total", "folder", "invoices"); got != 2 {
		t.Errorf("retries after status failure = %v, want 2", got)
	}
}

func TestHealthz(t *testing.T) {
	fs := &fakeStatus{st: sampleStatus()}
	var healthErr error
	var hmu sync.Mutex
	url := startServer(t, &Server{Status: fs.get, Health: func(context.Context) error {
		hmu.Lock()
		defer hmu.Unlock()
		return healthErr
	}})

	code, _, body := get(t, url+"/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthy agent: %d %q, want 200 \"ok\\n\"", code, body)
	}

	fs.set(func(st *signagent.Status) { st.Folders[0].Held = "client service inactive at Sign'Stash" })
	code, _, body = get(t, url+"/healthz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("held folder: status %d, want 503", code)
	}
	if want := `folder "invoices": held: client service inactive at Sign'Stash`; !strings.Contains(body, want) {
		t.Errorf("held folder body %q does not contain %q", body, want)
	}

	fs.set(func(st *signagent.Status) {
		st.Folders[0].Held = ""
		st.Folders[1].WatchError = "watch /srv/in: no space left on device"
	})
	hmu.Lock()
	healthErr = errors.New("ledger not writable: disk full")
	hmu.Unlock()
	code, _, body = get(t, url+"/healthz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("watcher down + ledger: status %d, want 503", code)
	}
	for _, want := range []string{`folder "credit-notes": watcher down`, "ledger not writable: disk full"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q does not contain %q", body, want)
		}
	}

	fs.mu.Lock()
	fs.err = errors.New("ledger closed")
	fs.mu.Unlock()
	hmu.Lock()
	healthErr = nil
	hmu.Unlock()
	code, _, body = get(t, url+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "status unavailable: ledger closed") {
		t.Errorf("failing status: %d %q, want 503 with the reason", code, body)
	}
}

func TestStatusJSONRoundTrip(t *testing.T) {
	want := sampleStatus()
	fs := &fakeStatus{st: want}
	url := startServer(t, &Server{Status: fs.get})

	code, hdr, body := get(t, url+"/status")
	if code != http.StatusOK {
		t.Fatalf("GET /status: %d %s", code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got signagent.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, *want)
	}
	// Byte for byte what the CLI prints with EncodeStatus.
	var cli bytes.Buffer
	if err := EncodeStatus(&cli, want); err != nil {
		t.Fatal(err)
	}
	if body != cli.String() {
		t.Errorf("/status body differs from EncodeStatus:\n%s\n---\n%s", body, cli.String())
	}
	for _, key := range []string{`"ledger_bytes": 123456`, `"age_seconds": 90`, `"operation": "op-9"`} {
		if !strings.Contains(body, key) {
			t.Errorf("/status lacks stable key %s", key)
		}
	}

	resp, err := http.Post(url+"/status", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /status: %d, want 405", resp.StatusCode)
	}
}

func TestListenRefusesRemote(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.10:9464", "example.com:9464"} {
		ln, err := (&Server{Addr: addr}).Listen()
		if err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded without AllowRemote", addr)
			continue
		}
		if signagent.KindOf(err) != signagent.KindConfig || !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("Listen(%q) = %v, want a configuration error naming loopback", addr, err)
		}
		if signagent.HintOf(err) == "" {
			t.Errorf("Listen(%q): error has no hint", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := (&Server{Addr: addr}).Listen()
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			t.Errorf("Listen(%q) bound %v", addr, ln.Addr())
		}
		ln.Close()
	}
	// Explicitly allowed: every interface.
	ln, err := (&Server{Addr: "0.0.0.0:0", AllowRemote: true}).Listen()
	if err != nil {
		t.Fatalf("Listen with AllowRemote: %v", err)
	}
	ln.Close()
}

func TestListenPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = (&Server{Addr: ln.Addr().String()}).Listen()
	if err == nil {
		t.Fatal("Listen on a taken port succeeded")
	}
	if signagent.KindOf(err) != signagent.KindConfig || !strings.Contains(signagent.HintOf(err), "change listen") {
		t.Errorf("taken port: %v (hint %q)", err, signagent.HintOf(err))
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	s := &Server{Addr: "127.0.0.1:0", Status: (&fakeStatus{st: sampleStatus()}).get}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Already cancelled: Run binds, serves nothing, and shuts down cleanly.
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with cancelled ctx: %v", err)
	}
}

func TestHealthy(t *testing.T) {
	if err := Healthy(sampleStatus()); err != nil {
		t.Errorf("sample status unhealthy: %v", err)
	}
	if err := Healthy(nil); err == nil {
		t.Error("nil status reported healthy")
	}
	st := sampleStatus()
	st.Folders[1].Held = "disk full on outbox"
	st.Folders[0].WatchError = "fsnotify: queue overflow"
	err := Healthy(st)
	var u *UnhealthyError
	if !errors.As(err, &u) || len(u.Problems) != 2 {
		t.Fatalf("Healthy = %v, want two problems", err)
	}
	if u.Problems[0].Folder != "invoices" || u.Problems[1].Folder != "credit-notes" {
		t.Errorf("problems out of folder order: %+v", u.Problems)
	}
	if got := strings.Count(err.Error(), "\n"); got != 1 {
		t.Errorf("Error() = %q, want one line per problem", err.Error())
	}
}
