// Command pipeline measures the agent end to end against the bare signer,
// in one process and one run, on the same files with the same workers:
//
//  1. bare: signer.Local.SignFile over every document, Workers at a time;
//  2. pipeline: the same documents dropped in an inbox before a real
//     agent.Agent starts (real ledger, watcher, batching, publication,
//     archive), timed until the last one is published;
//  3. paced: documents dropped one by one at a fraction of the bare rate,
//     for the latency from "settled" to "published" (p50, p99);
//  4. latency: documents dropped (written under a temporary name, then
//     renamed into the inbox, as producers are asked to) one at a time into
//     an idle inbox, and in bursts, with the product's default settle and
//     with others, for the latency from "dropped" to "published".
//
// Rounds alternate the order of bare and pipeline so drift on a shared
// machine does not favour either. Lines starting with "RESULT" are the
// figures scripts/bench.sh gathers into its summary.
//
//	go run ./internal/bench/pipeline -docs 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/bench/benchdata"
	"github.com/signagent/signagent/internal/gctune"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

type options struct {
	corpus     string
	docs       int
	maxKB      int
	workers    int
	rounds     int
	settle     time.Duration
	maxFiles   int
	maxWait    time.Duration
	inFlight   int
	paced      int
	load       float64
	dir        string
	keep       bool
	cpuprofile string
	verify     int
	trials     int
	bursts     int
	burst      int
	gap        time.Duration
	latSettles string
}

func main() {
	var o options
	flag.StringVar(&o.corpus, "corpus", "testdata/corpus", "directory of source PDFs")
	flag.IntVar(&o.docs, "docs", 1000, "documents per throughput run")
	flag.IntVar(&o.maxKB, "max-kb", 400, "use corpus PDFs of at most this many kB (0: all)")
	flag.IntVar(&o.workers, "workers", 0, "signer workers, for both the bare signer and the agent (0: one per CPU)")
	flag.IntVar(&o.rounds, "rounds", 2, "bare/pipeline pairs, alternating which goes first")
	flag.DurationVar(&o.settle, "settle", 100*time.Millisecond, "folder settle time")
	flag.IntVar(&o.maxFiles, "max-files", config.DefaultMaxFiles, "folder max_files")
	flag.DurationVar(&o.maxWait, "max-wait", config.DefaultMaxWait, "folder max_wait")
	flag.IntVar(&o.inFlight, "in-flight", 0, "batches in flight per folder (0: agent default)")
	flag.IntVar(&o.paced, "paced", 400, "documents in the paced latency run (0: skip it)")
	flag.Float64Var(&o.load, "load", 0.5, "paced arrival rate as a fraction of the bare signer's rate")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the last pipeline run to `file`")
	flag.IntVar(&o.verify, "verify", 5, "published outputs checked with signer.VerifyFile after each pipeline run")
	flag.IntVar(&o.trials, "trials", 50, "latency: single documents dropped into an idle inbox, per settle (0: skip the latency runs)")
	flag.IntVar(&o.bursts, "bursts", 3, "latency: bursts per settle")
	flag.IntVar(&o.burst, "burst", 50, "latency: documents per burst")
	flag.DurationVar(&o.gap, "gap", 300*time.Millisecond, "latency: idle time after each trial or burst is published")
	flag.StringVar(&o.latSettles, "latency-settles", "default,500ms", "latency: comma-separated settle times (\"default\": the product's)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.workers <= 0 {
		o.workers = runtime.NumCPU()
	}
	if o.inFlight <= 0 {
		o.inFlight = agent.DefaultInFlight
	}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "signagent-bench-pipeline-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	sources, err := benchdata.CorpusPDFs(o.corpus, int64(o.maxKB)*1000)
	if err != nil {
		return err
	}
	paths, total, err := benchdata.Prepare(filepath.Join(dir, "staging"), sources, o.docs)
	if err != nil {
		return err
	}
	local, err := signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev",
		DataDir: filepath.Join(dir, "cert"), Workers: o.workers, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	fmt.Printf("workload: %d unique PDFs from %d corpus files (<= %d kB), mean %.0f kB, %.1f MB in all\n",
		o.docs, len(sources), o.maxKB, float64(total)/float64(o.docs)/1000, float64(total)/1e6)
	fmt.Printf("machine: %d CPUs, GOMAXPROCS %d, %s/%s; signer workers %d\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, o.workers)
	// The service's garbage collector settings, for the agent and the bare
	// signer alike (one process): what the agent adds is compared at equal
	// GC settings.
	gc := gctune.Apply(os.Getenv)
	fmt.Printf("gc: the service's settings, for both (GC percent %s, soft memory limit %s; GOGC and GOMEMLIMIT override)\n",
		orEnv(gc.Percent != 0, strconv.Itoa(gc.Percent)), orEnv(gc.Limit != 0, fmt.Sprintf("%d MiB", gc.Limit>>20)))
	fmt.Printf("folder: settle %s, max_files %d, max_wait %s, in-flight batches %d, archive on, log level info to a file\n",
		o.settle, o.maxFiles, o.maxWait, o.inFlight)

	// Warm up: key, code paths and page cache, untimed.
	if _, _, err := bare(local, paths[:min(len(paths), 4*o.workers)], filepath.Join(dir, "warm"), o.workers); err != nil {
		return err
	}

	var bareRates, pipeRates, steadyRates, bareCPU, pipeCPU []float64
	var loaded []time.Duration
	for r := range o.rounds {
		steps := []string{"bare", "pipeline"}
		if r%2 == 1 {
			steps = []string{"pipeline", "bare"}
		}
		for _, s := range steps {
			switch s {
			case "bare":
				d, cpu, err := bare(local, paths, filepath.Join(dir, fmt.Sprintf("bare-%d", r)), o.workers)
				if err != nil {
					return err
				}
				rate := float64(len(paths)) / d.Seconds()
				bareRates = append(bareRates, rate)
				bareCPU = append(bareCPU, perDoc(cpu, len(paths)))
				fmt.Printf("round %d  bare signer: %d docs in %s = %.1f docs/s, CPU %.2f ms/doc\n", r+1, len(paths), d.Round(time.Millisecond), rate, perDoc(cpu, len(paths)))
			case "pipeline":
				prof := ""
				if r == o.rounds-1 {
					prof = o.cpuprofile
				}
				res, err := pipeline(o, local, paths, filepath.Join(dir, fmt.Sprintf("pipe-%d", r)), nil, prof)
				if err != nil {
					return err
				}
				rate := float64(len(paths)) / res.total.Seconds()
				steady := float64(len(paths)-1) / res.last.Sub(res.first).Seconds()
				pipeRates = append(pipeRates, rate)
				steadyRates = append(steadyRates, steady)
				pipeCPU = append(pipeCPU, perDoc(res.cpu, len(paths)))
				loaded = append(loaded, res.settleToPublish...)
				fmt.Printf("round %d  pipeline:    %d docs in %s = %.1f docs/s, CPU %.2f ms/doc (first published after %s; first to last %.1f docs/s)\n",
					r+1, len(paths), res.total.Round(time.Millisecond), rate, perDoc(res.cpu, len(paths)), res.first.Sub(res.start).Round(time.Millisecond), steady)
				fmt.Printf("          stages: %s\n", res.stages)
			}
		}
	}
	bRate, pRate, sRate := median(bareRates), median(pipeRates), median(steadyRates)
	fmt.Printf("RESULT pipeline overhead: agent %.1f docs/s vs bare signer %.1f docs/s = %.1f %% (target >= 90 %%); first-to-last %.1f docs/s = %.1f %%  [%d x ~%.0f kB PDFs, %d workers, settle %s, medians of %d rounds]\n",
		pRate, bRate, 100*pRate/bRate, sRate, 100*sRate/bRate, o.docs, float64(total)/float64(o.docs)/1000, o.workers, o.settle, o.rounds)
	bc, pc := median(bareCPU), median(pipeCPU)
	fmt.Printf("RESULT CPU per document: agent %.2f ms vs bare signer %.2f ms (+%.2f ms for watcher, ledger, check, publication, archive; target <= +0.35 ms)\n", pc, bc, pc-bc)
	fl, err := floor(local, paths, filepath.Join(dir, "floor"))
	if err != nil {
		return err
	}
	printFloor(fl, len(paths), pc-bc)
	fmt.Printf("RESULT settled->published under a %d-doc backlog: p50 %s, p99 %s\n", o.docs,
		benchdata.Percentile(loaded, 50).Round(time.Millisecond), benchdata.Percentile(loaded, 99).Round(time.Millisecond))

	if o.paced > 0 {
		rate := o.load * bRate
		n := min(o.paced, len(paths))
		res, err := pipeline(o, local, paths[:n], filepath.Join(dir, "paced"), &rate, "")
		if err != nil {
			return err
		}
		fmt.Printf("RESULT settled->published at %.0f docs/s arriving (%.0f %% of bare), %d docs: p50 %s, p99 %s  [max_files %d, max_wait %s]\n",
			rate, 100*o.load, n, benchdata.Percentile(res.settleToPublish, 50).Round(time.Millisecond),
			benchdata.Percentile(res.settleToPublish, 99).Round(time.Millisecond), o.maxFiles, o.maxWait)
		fmt.Printf("          stages: %s\n", res.stages)
	}
	if o.trials > 0 {
		for i, v := range strings.Split(o.latSettles, ",") {
			settle, label := time.Duration(0), "default "+config.DefaultSettle.String()
			if v = strings.TrimSpace(v); v != "default" {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("-latency-settles: %w", err)
				}
				settle, label = d, d.String()
			}
			if err := latency(o, local, paths, filepath.Join(dir, fmt.Sprintf("latency-%d", i)), settle, label); err != nil {
				return err
			}
		}
	}
	fmt.Printf("process peak RSS (VmHWM): %s\n", benchdata.MB(benchdata.ProcKB(0, "VmHWM")))
	return nil
}

// latency runs one agent with the product's default folder settings (settle
// 0: the default) and drops documents into its inbox the way producers are
// asked to: written under a temporary name that the watcher ignores, then
// renamed in. First o.trials documents one at a time, each once the previous
// one is published and the inbox has been idle for o.gap; then o.bursts
// bursts of o.burst documents renamed in together. It prints the latency from
// the rename (for a burst: the first rename) to each publication.
func latency(o options, local *signer.Local, paths []string, dir string, settle time.Duration, label string) error {
	need := o.trials + o.bursts*o.burst
	if need > len(paths) {
		return fmt.Errorf("latency needs %d documents, -docs gives %d", need, len(paths))
	}
	f := &agent.Folder{
		Name: "latency", Inbox: filepath.Join(dir, "inbox"), Outbox: filepath.Join(dir, "outbox"),
		Error: filepath.Join(dir, "error"), Archive: filepath.Join(dir, "archive"),
		Backend: local, Opts: folderOpts(),
		MaxFiles: config.DefaultMaxFiles, MaxWait: config.DefaultMaxWait,
		Watch: watcher.Config{Settle: settle},
	}
	for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	db, err := ledger.Open(filepath.Join(dir, "data", "ledger.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	pubs := &publications{changed: make(chan struct{}, 1)}
	a := &agent.Agent{Ledger: db, Folders: []*agent.Folder{f}, Observer: pubs,
		Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	time.Sleep(o.gap) // the agent's first scan of the empty inbox

	next := 0
	// stage writes the next document under a name the watcher ignores and
	// returns the rename that drops it.
	stage := func() (func() error, error) {
		src := paths[next]
		next++
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		final := filepath.Join(f.Inbox, filepath.Base(src))
		tmp := final + ".partial"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return nil, err
		}
		return func() error { return os.Rename(tmp, final) }, nil
	}
	// wait waits for n publications in all and returns the times of those
	// after the first have.
	wait := func(have, n int) ([]time.Time, error) {
		limit := time.NewTimer(time.Minute + time.Duration(n-have)*time.Second)
		defer limit.Stop()
		for {
			ts, failed := pubs.snapshot()
			if failed > 0 {
				return nil, fmt.Errorf("%d documents failed (see %s and %s)", failed, f.Error, logf.Name())
			}
			if len(ts) >= n {
				return ts[have:n], nil
			}
			select {
			case <-pubs.changed:
			case err := <-runErr:
				return nil, fmt.Errorf("agent stopped early: %v", err)
			case <-limit.C:
				return nil, fmt.Errorf("gave up waiting: %d of %d published (see %s)", len(ts), n, logf.Name())
			}
		}
	}
	var single, bursts []time.Duration
	published := 0
	for range o.trials {
		drop, err := stage()
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := drop(); err != nil {
			return err
		}
		ts, err := wait(published, published+1)
		if err != nil {
			return err
		}
		published++
		single = append(single, ts[0].Sub(t0))
		time.Sleep(o.gap)
	}
	var lasts []time.Duration
	for range o.bursts {
		drops := make([]func() error, o.burst)
		for i := range drops {
			if drops[i], err = stage(); err != nil {
				return err
			}
		}
		t0 := time.Now()
		for _, drop := range drops {
			if err := drop(); err != nil {
				return err
			}
		}
		ts, err := wait(published, published+o.burst)
		if err != nil {
			return err
		}
		published += o.burst
		for _, t := range ts {
			bursts = append(bursts, t.Sub(t0))
		}
		lasts = append(lasts, ts[len(ts)-1].Sub(t0))
		time.Sleep(o.gap)
	}
	cancel()
	if err := <-runErr; err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	if len(single) > 0 {
		target := ""
		if settle == 0 {
			target = fmt.Sprintf(" (target p50 <= settle + 300ms = %s)", ms(config.DefaultSettle+300*time.Millisecond))
		}
		fmt.Printf("RESULT dropped->published, one file into an idle inbox, settle %s: p50 %s, p99 %s, max %s%s  [%d trials %s apart]\n",
			label, ms(benchdata.Percentile(single, 50)), ms(benchdata.Percentile(single, 99)), ms(benchdata.Percentile(single, 100)), target, len(single), o.gap)
	}
	if len(bursts) > 0 {
		fmt.Printf("RESULT dropped->published, bursts of %d, settle %s: p50 %s, p99 %s; whole burst %s  [%d bursts]\n",
			o.burst, label, ms(benchdata.Percentile(bursts, 50)), ms(benchdata.Percentile(bursts, 99)), durations(lasts), o.bursts)
	}
	if warn := countLevels(logf.Name()); warn != "" {
		fmt.Printf("          agent log: %s\n", warn)
	}
	return nil
}

// durations lists ds rounded to milliseconds: "2.1s, 2.3s".
func durations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

// publications is the latency runs' Observer: the time of every publication.
type publications struct {
	changed chan struct{}

	mu     sync.Mutex
	times  []time.Time
	failed int
}

var _ signagent.Observer = (*publications)(nil)

func (p *publications) Transition(_ string, to signagent.State) {
	now := time.Now()
	p.mu.Lock()
	switch to {
	case signagent.StatePublished:
		p.times = append(p.times, now)
	case signagent.StateFailed:
		p.failed++
	}
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *publications) snapshot() ([]time.Time, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.times), p.failed
}

func (p *publications) Batch(string, int, int64)            {}
func (p *publications) Stage(string, string, time.Duration) {}
func (p *publications) Retry(string)                        {}

// orEnv returns v when it was set, else "from the environment".
func orEnv(set bool, v string) string {
	if set {
		return v
	}
	return "from the environment"
}

func perDoc(d time.Duration, n int) float64 { return d.Seconds() * 1000 / float64(n) }

// bare signs every path into outDir, workers at a time, and returns the
// wall and CPU time. Outputs are removed afterwards.
func bare(local *signer.Local, paths []string, outDir string, workers int) (time.Duration, time.Duration, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(outDir)
	opts := folderOpts()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	start, cpu0 := time.Now(), benchdata.CPUTime()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				in := paths[i]
				if _, err := local.SignFile(context.Background(), in, filepath.Join(outDir, filepath.Base(in)), filepath.Base(in), opts); err != nil {
					err = fmt.Errorf("bare sign %s: %w", in, err)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	for i := range paths {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took, cpu := time.Since(start), benchdata.CPUTime()-cpu0
	if p := firstErr.Load(); p != nil {
		return 0, 0, *p
	}
	return took, cpu, nil
}

func folderOpts() signing.Options {
	return signing.Options{Type: signing.TypeAuto, Reason: "Invoice", Location: "Lisboa"}
}

type pipeResult struct {
	start, first, last time.Time
	total, cpu         time.Duration
	settleToPublish    []time.Duration
	stages             string
}

// pipeline runs a fresh agent over a fresh ledger and folders under dir.
// With rate nil every document is in the inbox before the agent starts;
// otherwise documents arrive one by one at *rate per second once it runs.
func pipeline(o options, local *signer.Local, paths []string, dir string, rate *float64, cpuprofile string) (*pipeResult, error) {
	f := &agent.Folder{
		Name: "bench", Inbox: filepath.Join(dir, "inbox"), Outbox: filepath.Join(dir, "outbox"),
		Error: filepath.Join(dir, "error"), Archive: filepath.Join(dir, "archive"),
		Backend: local, Opts: folderOpts(),
		MaxFiles: o.maxFiles, MaxWait: o.maxWait, InFlight: o.inFlight,
		Watch: watcher.Config{Include: []string{"*.pdf"}, Settle: o.settle},
	}
	for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	db, err := ledger.Open(filepath.Join(dir, "data", "ledger.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	rec := newRecorder(len(paths))
	a := &agent.Agent{Ledger: db, Folders: []*agent.Folder{f}, Observer: rec,
		Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))}

	drop := func(p string) error { return os.Link(p, filepath.Join(f.Inbox, filepath.Base(p))) }
	if rate == nil {
		for _, p := range paths {
			if err := drop(p); err != nil {
				return nil, err
			}
		}
	}
	if cpuprofile != "" {
		pf, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	start, cpu0 := time.Now(), benchdata.CPUTime()
	go func() { runErr <- a.Run(ctx) }()
	feedErr := make(chan error, 1)
	if rate != nil {
		go func() {
			every := time.Duration(float64(time.Second) / *rate)
			for i, p := range paths {
				time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
				if err := drop(p); err != nil {
					feedErr <- err
					return
				}
			}
		}()
	}
	// A generous limit against a wedged run; it is not a measurement.
	limit := time.NewTimer(time.Duration(len(paths))*200*time.Millisecond + time.Minute)
	defer limit.Stop()
	select {
	case <-rec.done:
	case err := <-runErr:
		return nil, fmt.Errorf("agent stopped early: %v", err)
	case err := <-feedErr:
		return nil, err
	case <-limit.C:
		return nil, fmt.Errorf("gave up waiting: %d published, %d failed of %d (see %s)", rec.count(signagent.StatePublished), rec.count(signagent.StateFailed), len(paths), logf.Name())
	}
	cpu := benchdata.CPUTime() - cpu0
	cancel()
	if err := <-runErr; err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	res := rec.result(start)
	res.cpu = cpu
	if n := rec.count(signagent.StateFailed); n > 0 {
		return nil, fmt.Errorf("%d documents failed (see %s and %s)", n, f.Error, logf.Name())
	}
	outs, err := filepath.Glob(filepath.Join(f.Outbox, "*.pdf"))
	if err != nil {
		return nil, err
	}
	if len(outs) != len(paths) {
		return nil, fmt.Errorf("outbox holds %d PDFs, want %d", len(outs), len(paths))
	}
	for _, p := range outs[:min(o.verify, len(outs))] {
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil {
			return nil, err
		}
		if len(vs) != 1 || !vs[0].Valid {
			return nil, fmt.Errorf("%s: published output does not verify: %+v", p, vs)
		}
	}
	if warn := countLevels(logf.Name()); warn != "" {
		fmt.Printf("          agent log: %s\n", warn)
	}
	return res, nil
}

// countLevels reports warnings and errors in an agent log, "" when none.
func countLevels(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	w, e := strings.Count(string(b), "level=WARN"), strings.Count(string(b), "level=ERROR")
	if w+e == 0 {
		return ""
	}
	return fmt.Sprintf("%d warnings, %d errors", w, e)
}

// recorder is the agent's Observer for the benchmark: it counts terminal
// transitions, timestamps publications and keeps stage latencies.
type recorder struct {
	n    int
	done chan struct{}

	mu          sync.Mutex
	states      map[signagent.State]int
	first, last time.Time
	stages      map[string][]time.Duration
}

var _ signagent.Observer = (*recorder)(nil)

func newRecorder(n int) *recorder {
	return &recorder{n: n, done: make(chan struct{}), states: map[signagent.State]int{}, stages: map[string][]time.Duration{}}
}

func (r *recorder) Transition(_ string, to signagent.State) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states[to]++
	if to == signagent.StatePublished {
		if r.first.IsZero() {
			r.first = now
		}
		r.last = now
	}
	if to.Terminal() && r.states[signagent.StatePublished]+r.states[signagent.StateFailed] == r.n {
		close(r.done)
	}
}

func (r *recorder) Batch(string, int, int64) {}

func (r *recorder) Stage(_, stage string, d time.Duration) {
	r.mu.Lock()
	r.stages[stage] = append(r.stages[stage], d)
	r.mu.Unlock()
}

func (r *recorder) Retry(string) {}

func (r *recorder) count(s signagent.State) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[s]
}

func (r *recorder) result(start time.Time) *pipeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &pipeResult{start: start, first: r.first, last: r.last, total: r.last.Sub(start),
		settleToPublish: append([]time.Duration(nil), r.stages["settle_to_publish"]...)}
	var parts []string
	for _, s := range []string{"submit", "publish"} {
		d := r.stages[s]
		if len(d) == 0 {
			continue
		}
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		parts = append(parts, fmt.Sprintf("%s n=%d mean %s p99 %s", s, len(d), (sum/time.Duration(len(d))).Round(time.Microsecond),
			benchdata.Percentile(d, 99).Round(time.Microsecond)))
	}
	res.stages = strings.Join(parts, "; ")
	return res
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
