package monitor

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signagent/signagent"
)

// DefaultScrapeTimeout bounds the status call made during a scrape.
const DefaultScrapeTimeout = 5 * time.Second

// StatusFunc returns the agent's current queue report.
type StatusFunc func(ctx context.Context) (*signagent.Status, error)

// states lists every document state, so the per-state gauges keep a stable
// set of series (a state with no documents reports 0 instead of vanishing).
var states = []signagent.State{
	signagent.StateSeen, signagent.StateClaimed, signagent.StateBatched,
	signagent.StateSubmitted, signagent.StateSigned, signagent.StatePublished,
	signagent.StateFailed,
}

// Metrics holds the agent's Prometheus metrics in a registry of its own. It
// implements signagent.Observer; its methods are safe for concurrent use and
// never block on I/O.
type Metrics struct {
	reg *prometheus.Registry

	documents  *prometheus.CounterVec
	batchDocs  *prometheus.HistogramVec
	batchBytes *prometheus.HistogramVec
	stage      *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	certExpiry *prometheus.GaugeVec
	published  *prometheus.GaugeVec
	build      *prometheus.GaugeVec

	status *statusCollector
	live   *liveCollector
	rates  rates
	now    func() time.Time
}

var _ signagent.Observer = (*Metrics)(nil)

// NewMetrics returns metrics registered in a fresh registry, together with
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signagent_documents_total",
			Help: "Documents that entered a state, by folder and state.",
		}, []string{"folder", "state"}),
		batchDocs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signagent_batch_documents",
			Help:    "Documents per submitted batch.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500},
		}, []string{"folder"}),
		batchBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signagent_batch_bytes",
			Help:    "Bytes per submitted batch.",
			Buckets: prometheus.ExponentialBuckets(64<<10, 4, 8), // 64 KiB … 1 GiB
		}, []string{"folder"}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "signagent_stage_seconds",
			Help:    "Latency of pipeline stages (submit, poll, publish, settle_to_publish).",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12), // 10 ms … ~30 min
		}, []string{"folder", "stage"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signagent_retries_total",
			Help: "Attempts retried after a transient error.",
		}, []string{"folder"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signagent_certificate_expiry_timestamp_seconds",
			Help: "When the signing certificate a backend holds expires (Unix time); absent for backends whose certificate stays at the signing service.",
		}, []string{"backend"}),
		published: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signagent_last_publish_timestamp_seconds",
			Help: "When the folder last published a signed document (Unix time); absent until it has.",
		}, []string{"folder"}),
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signagent_build_info",
			Help: "1, labelled with the agent's version and Go version.",
		}, []string{"version", "goversion"}),
		status: &statusCollector{timeout: DefaultScrapeTimeout},
		live:   &liveCollector{timeout: DefaultScrapeTimeout},
		now:    time.Now,
	}
	m.rates.started = m.now()
	m.reg.MustRegister(
		m.documents, m.batchDocs, m.batchBytes, m.stage, m.retries, m.certExpiry, m.published, m.build,
		m.status, m.live,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry holding every metric, for tests and for
// callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing collector must not hide the others.
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg,
		Timeout:           m.status.timeout + 5*time.Second,
		EnableOpenMetrics: true,
	}))
}

// Observe sets the function read at every scrape to fill the queue gauges
// (signagent_ledger_documents, signagent_oldest_waiting_seconds,
// signagent_folder_held, signagent_watcher_up, signagent_in_flight_operations,
// signagent_ledger_bytes). A later call replaces the earlier function; nil
// removes it. Each call is bounded by DefaultScrapeTimeout.
func (m *Metrics) Observe(status StatusFunc) {
	m.status.mu.Lock()
	m.status.fn = status
	m.status.mu.Unlock()
}

// Transition counts a document entering state to in folder.
func (m *Metrics) Transition(folder string, to signagent.State) {
	m.documents.WithLabelValues(folder, string(to)).Inc()
	if to == signagent.StatePublished {
		now := m.now()
		m.rates.add(folder, now)
		m.published.WithLabelValues(folder).Set(float64(now.UnixNano()) / 1e9)
	}
}

// Init exports the build information and starts every per-folder counter
// at 0, so that rate() and increase() see a document's first transition
// instead of a series appearing.
func (m *Metrics) Init(version string, folders []string) {
	m.build.WithLabelValues(version, runtime.Version()).Set(1)
	for _, f := range folders {
		for _, s := range states {
			m.documents.WithLabelValues(f, string(s))
		}
		m.retries.WithLabelValues(f)
	}
}

// ObserveLive sets the function read at every scrape for the gauges only
// the running agent knows: files waiting in each inbox
// (signagent_inbox_files) and failed documents waiting in each error folder
// by code (signagent_failed_documents). nil removes it.
func (m *Metrics) ObserveLive(live func(ctx context.Context) ([]FolderLive, error)) {
	m.live.mu.Lock()
	m.live.fn = live
	m.live.mu.Unlock()
}

// Certificates sets the certificate expiry gauge of every backend that
// holds its certificate.
func (m *Metrics) Certificates(bs []BackendInfo) {
	for _, b := range bs {
		if !b.NotAfter.IsZero() {
			m.certExpiry.WithLabelValues(b.Name).Set(float64(b.NotAfter.Unix()))
		}
	}
}

// PerMinute is folder's publications per minute over the last five
// minutes (or since the metrics were made, when that is shorter).
func (m *Metrics) PerMinute(folder string) float64 {
	return m.rates.perMinute(folder, m.now())
}

// Batch records a submitted batch's size.
func (m *Metrics) Batch(folder string, docs int, bytes int64) {
	m.batchDocs.WithLabelValues(folder).Observe(float64(docs))
	m.batchBytes.WithLabelValues(folder).Observe(float64(bytes))
}

// Stage records the latency of a pipeline stage.
func (m *Metrics) Stage(folder, stage string, d time.Duration) {
	m.stage.WithLabelValues(folder, stage).Observe(d.Seconds())
}

// Retry counts a retried attempt.
func (m *Metrics) Retry(folder string) {
	m.retries.WithLabelValues(folder).Inc()
}

var (
	descUp = prometheus.NewDesc("signagent_status_up",
		"1 when the last scrape could read the queue report, 0 when it failed.", nil, nil)
	// Not "signagent_documents": OpenMetrics reads the counter
	// signagent_documents_total as that family.
	descDocuments = prometheus.NewDesc("signagent_ledger_documents",
		"Documents currently recorded in each state, by folder.", []string{"folder", "state"}, nil)
	descInboxFiles = prometheus.NewDesc("signagent_inbox_files",
		"Files waiting in the folder's inbox, not yet claimed.", []string{"folder"}, nil)
	descFailedDocs = prometheus.NewDesc("signagent_failed_documents",
		"Failed documents waiting in the folder's error folder, by error code.", []string{"folder", "code"}, nil)
	descOldest = prometheus.NewDesc("signagent_oldest_waiting_seconds",
		"Age of the oldest document not yet in a terminal state (0 when none waits).", []string{"folder"}, nil)
	descHeld = prometheus.NewDesc("signagent_folder_held",
		"1 when the folder's queue is held (configuration or local fault), else 0.", []string{"folder"}, nil)
	descWatcher = prometheus.NewDesc("signagent_watcher_up",
		"1 when the folder's change watcher works, 0 when only periodic scans run.", []string{"folder"}, nil)
	descInFlight = prometheus.NewDesc("signagent_in_flight_operations",
		"Batches submitted to a backend and not yet finished.", []string{"folder"}, nil)
	descLedger = prometheus.NewDesc("signagent_ledger_bytes",
		"Size of the ledger database on disk.", nil, nil)
	descInbox = prometheus.NewDesc("signagent_inbox_info",
		"1, labelled with the inbox's file system and whether it is a network share (file events unreliable: new files are found by scans).", []string{"folder", "fs", "network"}, nil)
	descScan = prometheus.NewDesc("signagent_scan_interval_seconds",
		"Time between scans of the folder's inbox.", []string{"folder"}, nil)
	descUnreported = prometheus.NewDesc("signagent_watcher_unreported_files_total",
		"Files a scan found that no file event had reported; growing means events are not arriving for this folder.", []string{"folder"}, nil)
)

// statusCollector turns the queue report into gauges at scrape time.
type statusCollector struct {
	timeout time.Duration

	mu sync.Mutex // guards fn
	fn StatusFunc
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descDocuments, descOldest, descHeld, descWatcher, descInFlight, descLedger, descInbox, descScan, descUnreported} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fn := c.fn
	c.mu.Unlock()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := fn(ctx)
	if err != nil || st == nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descLedger, prometheus.GaugeValue, float64(st.LedgerBytes))
	for _, f := range st.Folders {
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(descDocuments, prometheus.GaugeValue, float64(f.Counts[s]), f.Name, string(s))
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, oldestAge(st.Time, f.Oldest).Seconds(), f.Name)
		ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, flag(f.Held != ""), f.Name)
		ch <- prometheus.MustNewConstMetric(descWatcher, prometheus.GaugeValue, flag(f.WatchError == ""), f.Name)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(len(f.InFlight)), f.Name)
		if f.FileSystem != "" {
			ch <- prometheus.MustNewConstMetric(descInbox, prometheus.GaugeValue, 1, f.Name, f.FileSystem, strconv.FormatBool(f.Network))
			ch <- prometheus.MustNewConstMetric(descScan, prometheus.GaugeValue, f.ScanInterval.Seconds(), f.Name)
			ch <- prometheus.MustNewConstMetric(descUnreported, prometheus.CounterValue, float64(f.Unreported), f.Name)
		}
	}
}

// liveCollector turns the agent's live folder state into gauges at scrape
// time.
type liveCollector struct {
	timeout time.Duration

	mu sync.Mutex // guards fn
	fn func(ctx context.Context) ([]FolderLive, error)
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInboxFiles
	ch <- descFailedDocs
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fn := c.fn
	c.mu.Unlock()
	if fn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ls, err := fn(ctx)
	if err != nil {
		return
	}
	for _, l := range ls {
		ch <- prometheus.MustNewConstMetric(descInboxFiles, prometheus.GaugeValue, float64(l.Inbox), l.Name)
		byCode := map[string]int{}
		for _, f := range l.Failed {
			byCode[f.Code]++
		}
		// Beyond the listed ones, the code is not known: counted as "".
		if rest := l.FailedTotal - len(l.Failed); rest > 0 {
			byCode[""] += rest
		}
		for code, n := range byCode {
			ch <- prometheus.MustNewConstMetric(descFailedDocs, prometheus.GaugeValue, float64(n), l.Name, code)
		}
	}
}

// oldestAge is the waiting document's age as reported, or derived from the
// report's time when the report left it out.
func oldestAge(now time.Time, w *signagent.Waiting) time.Duration {
	switch {
	case w == nil:
		return 0
	case w.Age > 0:
		return w.Age
	case !w.Since.IsZero() && !now.IsZero() && now.After(w.Since):
		return now.Sub(w.Since)
	}
	return 0
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
