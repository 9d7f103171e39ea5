package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signagent/signagent/monitor"
)

// browserRequired is set by .ci/run: there the browser test must run.
const browserRequired = "SIGNAGENT_BROWSER_TEST"

// chromium returns the headless browser's path; without one the test is
// skipped, except in CI where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(browserRequired) != "" || os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium); the browser test is required here")
	}
	t.Skip("chromium is not installed: browser test skipped (apt-get install chromium to run it)")
	return ""
}

// pageBacklog is how many documents wait in the held folder.
const pageBacklog = 30

// pageAgent is an agent with a monitor, wired as `run` wires it, with
// held folders retrying only every minute so that what releases them
// during the test is the page's "recheck now".
type pageAgent struct {
	url     string
	dir     string
	logs    *lockedBuffer
	stopped chan error
}

func startPageAgent(t *testing.T) *pageAgent {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	base := corpusPDF(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "signagent.toml")
	folder := func(name, backend string) string {
		return fmt.Sprintf(`
[[folders]]
name = %[1]q
inbox = "%[1]s/inbox"
outbox = "%[1]s/outbox"
error = "%[1]s/error"
backend = %[2]q
settle = "100ms"
scan_interval = "500ms"
max_wait = "200ms"
max_files = 2
`, name, backend)
	}
	cfg := `data_dir = "data"
listen = "127.0.0.1:0"

[backends.local]
type = "local"
certificate = "dev"
` + folder("invoices", "local") + folder("held", "local")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, cfgPath)
	db, err := openLedger(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	backends, err := newBackends(c, &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}, log)
	if err != nil {
		t.Fatal(err)
	}
	runCfg, held, err := holdUnusable(context.Background(), c, db, log)
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(runCfg, db, backends, log)
	metrics := monitor.NewMetrics()
	a.Observer = metrics
	a.HoldMin, a.HoldRetry = time.Minute, time.Minute
	mon := newMonitor(c, a, held, backends, metrics, time.Now(), log)
	ln, err := mon.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pageAgent{url: "http://" + ln.Addr().String(), dir: dir, logs: logs, stopped: make(chan error, 2)}
	go func() { p.stopped <- mon.Serve(ctx, ln) }()
	go func() { p.stopped <- a.Run(ctx) }()
	var ops sync.WaitGroup
	startOperations(ctx, &ops, c, a, held, backends, metrics, log)
	t.Cleanup(func() {
		cancel()
		ops.Wait()
		for range 2 {
			if err := <-p.stopped; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})

	waitFor(t, "the agent's first reconcile", func() bool { return strings.Contains(logs.String(), "agent started") })

	// The held folder's outbox share is gone: its documents are signed and
	// wait, a backlog; the other folder has a failure.
	must(os.Rename(filepath.Join(dir, "held/outbox"), filepath.Join(dir, "held/outbox.unmounted")))
	for i := range pageBacklog {
		os.WriteFile(filepath.Join(dir, "held/inbox", fmt.Sprintf("h%02d.pdf", i)), uniquePDF(base, fmt.Sprint("held", i)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "invoices/inbox", "bad.pdf"), []byte("this is not a PDF\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "invoices/inbox", "good.pdf"), uniquePDF(base, "good"), 0o644)
	waitFor(t, "the failure, the hold and the backlog", func() bool {
		st, err := a.Status(context.Background())
		return err == nil && st.Folders[0].Counts["failed"] == 1 && st.Folders[0].Counts["published"] == 1 &&
			st.Folders[1].Held != "" && st.Folders[1].Counts["signed"] == pageBacklog
	})
	return p
}

func TestStatusPageInBrowser(t *testing.T) {
	chrome := chromium(t)
	p := startPageAgent(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	// What a person sees.
	if err := chromedp.Do(ctx, chromedp.Navigate(p.url+"/"), chromedp.WaitVisible(chromedp.CSS("#folders"))); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	body := text(t, ctx, "body")
	for _, want := range []string{
		"Not healthy: 1 problem(s)",
		"Folder held is held",
		"cannot", // the reason names what failed
		"Next recheck in",
		"NOT_A_PDF",
		"bad.pdf",
		"bad.pdf.error.json",
		"development certificate: signatures are NOT trusted",
		"signagent development signer (NOT TRUSTED)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	row := text(t, ctx, "#folder-held")
	if cells := regexp.MustCompile(`\d+`).FindAllString(row, -1); len(cells) < 7 || cells[4] != strconv.Itoa(pageBacklog) {
		t.Errorf("held folder's row does not show %d signed documents waiting: %q", pageBacklog, row)
	}
	screenshot(t, ctx, "status-page-held.png")

	// The certificate, in the log and as a metric.
	if !regexp.MustCompile(`msg="signing certificate" .*backend=local .*expires=\S+ days_left=\d+ development=true`).MatchString(p.logs.String()) {
		t.Error("the signing certificate is not in the log")
	}
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^signagent_certificate_expiry_timestamp_seconds\{backend="local"\} \d`).Match(metricsText) {
		t.Errorf("no certificate expiry metric:\n%s", metricsText)
	}

	// The share is back; "recheck now" publishes the backlog at once,
	// long before the folder's own retry (a minute away).
	if err := os.Rename(filepath.Join(p.dir, "held/outbox.unmounted"), filepath.Join(p.dir, "held/outbox")); err != nil {
		t.Fatal(err)
	}
	clicked := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#recheck-held")), waitFlash()); err != nil {
		t.Fatalf("recheck now: %v\n%s", err, text(t, bctx, "body"))
	}
	flash := text(t, ctx, "#flash")
	if !strings.Contains(flash, `folder "held": recheck started`) {
		t.Errorf("after recheck: %q", flash)
	}
	published := regexp.MustCompile(`\d+`)
	waitPage(t, ctx, p.url, "the held folder to publish its backlog", func(body string) bool {
		row := text(t, ctx, "#folder-held")
		cells := published.FindAllString(row, -1)
		return strings.Contains(row, "flowing") && len(cells) >= 6 && cells[5] == strconv.Itoa(pageBacklog)
	})
	if d := time.Since(clicked); d > 45*time.Second {
		t.Errorf("released %v after the click: not by the recheck", d)
	}

	// The producer re-exports the failed document in place; "retry" sends
	// it through again.
	if err := os.WriteFile(filepath.Join(p.dir, "invoices/error/bad.pdf"), uniquePDF(corpusPDF(t), "fixed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.url+"/"),
		chromedp.Click(chromedp.CSS("#failures tr.failure button")),
		waitFlash()); err != nil {
		t.Fatalf("retry: %v\n%s", err, text(t, bctx, "body"))
	}
	flash = text(t, ctx, "#flash")
	if !strings.Contains(flash, `folder "invoices": 1 document(s) moved back to the inbox`) {
		t.Errorf("after retry: %q", flash)
	}
	waitPage(t, ctx, p.url, "the retried document to be published", func(body string) bool {
		return strings.Contains(body, "No failed documents") && strings.Contains(body, "Healthy: every folder flows")
	})
	if _, err := os.Stat(filepath.Join(p.dir, "invoices/outbox/bad.pdf")); err != nil {
		t.Errorf("retried document not in the outbox: %v", err)
	}
	screenshot(t, ctx, "status-page-healthy.png")
}

// waitFlash waits for the outcome of an action, at most 20 s.
func waitFlash() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return chromedp.WaitVisible(chromedp.CSS("#flash"))(ctx, t)
	}
}

// text is the rendered text of the first element matching the CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitPage reloads the page until cond holds on its text.
func waitPage(t *testing.T, ctx context.Context, url, what string, cond func(body string) bool) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("#folders"))); err != nil {
			t.Fatalf("reload: %v", err)
		}
		body := text(t, ctx, "body")
		if cond(body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// screenshot keeps a full-page capture beyond the test, in
// $SIGNAGENT_ARTIFACTS or a directory under the system's temp dir.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("SIGNAGENT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "signagent-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// TestUIActionsConfig: the page's actions follow ui_actions, on by default.
func TestUIActionsConfig(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{{"", true}, {"ui_actions = true", true}, {"ui_actions = false", false}} {
		l := newLayout(t, "")
		writeConfig(t, l, tc.line, "[backends.local]\ntype = \"local\"\n", "")
		c := mustLoad(t, l.cfg)
		mon := newMonitor(c, newAgent(c, nil, nil, slog.New(slog.DiscardHandler)), &heldFolders{cfg: c}, nil, monitor.NewMetrics(), time.Now(), slog.New(slog.DiscardHandler))
		if got := mon.Page.Actions != nil; got != tc.want {
			t.Errorf("%q: actions %v, want %v", tc.line, got, tc.want)
		}
		if mon.Page.Info.ConfigFile != c.Path || mon.Page.Info.PID != os.Getpid() {
			t.Errorf("agent info = %+v", mon.Page.Info)
		}
	}
}
