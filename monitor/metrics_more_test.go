package monitor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

// promtoolRequired is set by .ci/run: there `promtool check metrics` must run.
const promtoolRequired = "SIGNAGENT_PROMTOOL_TEST"

func TestMetricsInitBuildInfoPublishAndLive(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	m.Init("v1.2.3", []string{"invoices", "credit-notes"})
	m.ObserveLive(func(context.Context) ([]FolderLive, error) {
		return []FolderLive{
			{Name: "invoices", Inbox: 17, FailedTotal: 3, Failed: []FailedDoc{{Code: "NOT_A_PDF"}, {Code: "NOT_A_PDF"}, {Code: "DUPLICATE"}}},
			{Name: "credit-notes"},
		}, nil
	})
	url := startServer(t, &Server{Status: (&fakeStatus{st: sampleStatus()}).get, Metrics: m})

	fams := scrape(t, url)
	// Counters exist at 0 before their first increment.
	for _, f := range []string{"invoices", "credit-notes"} {
		for _, s := range states {
			if got := value(t, fams, "signagent_documents_total", "folder", f, "state", string(s)); got != 0 {
				t.Errorf("documents_total{%s,%s} = %v before any event", f, s, got)
			}
		}
		if got := value(t, fams, "signagent_retries_total", "folder", f); got != 0 {
			t.Errorf("retries_total{%s} = %v", f, got)
		}
	}
	if got := value(t, fams, "signagent_build_info", "version", "v1.2.3", "goversion", runtime.Version()); got != 1 {
		t.Errorf("build_info = %v", got)
	}
	if _, ok := fams["signagent_last_publish_timestamp_seconds"]; ok {
		t.Error("last publication exported before any publication")
	}
	if got := value(t, fams, "signagent_inbox_files", "folder", "invoices"); got != 17 {
		t.Errorf("inbox_files = %v, want 17", got)
	}
	if got := value(t, fams, "signagent_failed_documents", "folder", "invoices", "code", "NOT_A_PDF"); got != 2 {
		t.Errorf("failed_documents{NOT_A_PDF} = %v, want 2", got)
	}
	if got := value(t, fams, "signagent_failed_documents", "folder", "invoices", "code", "DUPLICATE"); got != 1 {
		t.Errorf("failed_documents{DUPLICATE} = %v, want 1", got)
	}

	m.Transition("invoices", signagent.StatePublished)
	fams = scrape(t, url)
	if got := value(t, fams, "signagent_last_publish_timestamp_seconds", "folder", "invoices"); got != float64(now.Unix()) {
		t.Errorf("last publish = %v, want %d", got, now.Unix())
	}
}

// TestMetricsPassPromtool runs `promtool check metrics` on a full scrape:
// no lint problem, no family clash.
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(promtoolRequired) != "" {
			t.Fatal("promtool is not installed (apt-get install prometheus); required here")
		}
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	m := NewMetrics()
	m.Init("v1.2.3", []string{"invoices", "credit-notes"})
	m.Certificates([]BackendInfo{{Name: "local", NotAfter: time.Now().Add(time.Hour)}})
	m.ObserveLive(func(context.Context) ([]FolderLive, error) {
		return []FolderLive{{Name: "invoices", Inbox: 1, FailedTotal: 1, Failed: []FailedDoc{{Code: "NOT_A_PDF"}}}}, nil
	})
	m.Transition("invoices", signagent.StatePublished)
	m.Batch("invoices", 3, 1<<20)
	m.Stage("invoices", "submit", time.Second)
	url := startServer(t, &Server{Status: (&fakeStatus{st: sampleStatus()}).get, Metrics: m})
	code, _, body := get(t, url+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}
