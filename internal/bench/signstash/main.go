// Command signstash measures the agent signing through Sign'Stash: the real
// signagent binary and the signstash-sim emulator each run as a child
// process, so the agent's peak RSS (VmHWM) is its own. For each scenario the
// documents are written to a fresh inbox before the agent starts; the run
// ends when every one is published (or failed).
//
// Scenarios:
//
//	small     one async request of 2,500 x 200 KB, once per transport
//	          (base64, multipart) side by side (targets: agent peak RSS
//	          < 64 MB, agent CPU <= 25 % of the agent's and emulator's)
//	large     one async request of 25 x 20 MB (same target)
//	requests  50 x 200 KB as 1 request of 50 and as 50 requests of 1,
//	          in async and in sync mode: documents per second
//
// Figures per scenario: wall time from agent start to the last publication,
// split into phases from the agent's log and its outbox (intake: start to
// the last claim; send: batched to submitted, in async mode the register
// call, which returns once the whole body is read; service: to the first
// signed file in the outbox, i.e. signing at the emulator, polling and the
// download of the results; publish: to the last publication), and the CPU
// time (utime+stime from /proc/PID/stat) of the agent and of the emulator
// over the scenario.
//
// Lines starting with "RESULT" are the figures scripts/bench.sh gathers.
//
// With -perf DIR, each scenario's agent is profiled with Linux perf
// (perf record -g on its pid, from start to the last publication); the
// profile and its report by symbol are left in DIR.
//
//	make build
//	go run ./internal/bench/signstash -agent bin/signagent -sim bin/signstash-sim
//	go run ./internal/bench/signstash -small 250 -large 5 -large-size 5MB   # quick
//	go run ./internal/bench/signstash -only small -small 500 -perf /tmp/prof
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/signagent/signagent/internal/bench/benchdata"
)

const (
	alias  = "PRT.000000000-PRT.000000000-bench"
	secret = "bench-secret-not-logged"
)

type options struct {
	agent, sim   string
	small        int
	smallSize    size
	large        int
	largeSize    size
	requests     int
	only         string
	transports   string
	mpMode       string
	content      string
	perf         string
	pollInterval time.Duration
	settle       time.Duration
	timeout      time.Duration
	dir          string
	keep         bool
}

// size is a byte count flag that takes "200KB", "20MB" (decimal) or a number.
type size int64

func (s *size) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *size) Set(v string) error {
	mult := int64(1)
	for suf, m := range map[string]int64{"KB": 1e3, "MB": 1e6, "GB": 1e9} {
		if strings.HasSuffix(strings.ToUpper(v), suf) {
			v, mult = v[:len(v)-2], m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a size such as 200KB or 20MB", v)
	}
	*s = size(n * mult)
	return nil
}

func main() {
	o := options{smallSize: 200_000, largeSize: 20_000_000}
	flag.StringVar(&o.agent, "agent", "bin/signagent", "signagent binary (make build)")
	flag.StringVar(&o.sim, "sim", "bin/signstash-sim", "signstash-sim binary (make build)")
	flag.IntVar(&o.small, "small", 2500, "documents in the small-document async request")
	flag.Var(&o.smallSize, "small-size", "size of each small document")
	flag.IntVar(&o.large, "large", 25, "documents in the large-document async request")
	flag.Var(&o.largeSize, "large-size", "size of each large document")
	flag.IntVar(&o.requests, "requests", 50, "documents for 1 x N against N x 1 requests")
	flag.StringVar(&o.only, "only", "small,large,requests", "scenarios to run, comma-separated")
	flag.StringVar(&o.transports, "transports", "base64,multipart", "transports of the small scenario, comma-separated")
	flag.StringVar(&o.mpMode, "multipart-mode", "async", "mode of the small scenario's multipart run (async or sync)")
	flag.StringVar(&o.content, "content", "padding", "documents' content: padding (text lines, compresses well) or opaque (pseudo-random bytes, as the compressed streams of real invoices)")
	flag.StringVar(&o.perf, "perf", "", "profile each agent with perf record into this directory")
	flag.DurationVar(&o.pollInterval, "poll-interval", 200*time.Millisecond, "backend poll_interval")
	flag.DurationVar(&o.settle, "settle", 500*time.Millisecond, "folder settle")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up a scenario after this long")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench signstash:", err)
		os.Exit(1)
	}
}

// scenario is one agent run over one inbox.
type scenario struct {
	name      string
	docs      int
	size      int64
	maxFiles  int
	mode      string
	transport string // "" for the backend's default (base64)
}

func run(o options) error {
	var err error
	for _, p := range []*string{&o.agent, &o.sim} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
		if _, err := os.Stat(*p); err != nil {
			return fmt.Errorf("%w (build it with `make build`)", err)
		}
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "signagent-bench-signstash-"); err != nil {
			return err
		}
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(s)] = true
	}
	var list []scenario
	if want["small"] && o.small > 0 {
		for _, t := range strings.Split(o.transports, ",") {
			t, mode := strings.TrimSpace(t), "async"
			if t == "multipart" {
				mode = o.mpMode
			}
			list = append(list, scenario{fmt.Sprintf("%s %s 1 x %d x %s", t, mode, o.small, human(int64(o.smallSize))), o.small, int64(o.smallSize), o.small, mode, t})
		}
	}
	if want["large"] && o.large > 0 {
		list = append(list, scenario{fmt.Sprintf("async 1 x %d x %s", o.large, human(int64(o.largeSize))), o.large, int64(o.largeSize), o.large, "async", ""})
	}
	if want["requests"] && o.requests > 0 {
		n := o.requests
		for _, mode := range []string{"async", "sync"} {
			list = append(list,
				scenario{fmt.Sprintf("%s 1 x %d x %s", mode, n, human(int64(o.smallSize))), n, int64(o.smallSize), n, mode, ""},
				scenario{fmt.Sprintf("%s %d x 1 x %s", mode, n, human(int64(o.smallSize))), n, int64(o.smallSize), 1, mode, ""})
		}
	}
	fmt.Printf("signstash bench: agent %s, emulator %s, poll_interval %s, settle %s, %d CPUs, %s documents\n",
		o.agent, o.sim, o.pollInterval, o.settle, runtime.NumCPU(), o.content)
	if o.perf != "" {
		if err := os.MkdirAll(o.perf, 0o755); err != nil {
			return err
		}
	}
	rates := map[string]float64{}
	var shares []string
	for i, s := range list {
		r, err := runScenario(o, filepath.Join(dir, fmt.Sprintf("s%d", i+1)), s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rates[s.name] = r.rate
		if s.transport != "" {
			shares = append(shares, fmt.Sprintf("%s agent %s + emulator %s, agent %.0f%%, agent peak RSS %s", s.transport,
				r.agentCPU.Round(10*time.Millisecond), r.simCPU.Round(10*time.Millisecond), r.share, benchdata.MB(r.peakKB)))
		}
	}
	if len(shares) > 1 {
		fmt.Printf("RESULT signstash 1 x %d x %s side by side (target: agent <= 25%% of the pair, peak RSS < 64 MB): %s\n",
			o.small, human(int64(o.smallSize)), strings.Join(shares, "; "))
	}
	if want["requests"] && o.requests > 0 {
		n, sz := o.requests, human(int64(o.smallSize))
		for _, mode := range []string{"async", "sync"} {
			one, many := rates[fmt.Sprintf("%s 1 x %d x %s", mode, n, sz)], rates[fmt.Sprintf("%s %d x 1 x %s", mode, n, sz)]
			if many > 0 {
				fmt.Printf("RESULT signstash %s: 1 x %d is %.1fx the documents/s of %d x 1 (%.1f vs %.1f docs/s)\n", mode, n, one/many, n, one, many)
			}
		}
	}
	return nil
}

// figures are a scenario's results: documents per second from the first
// batch to the last publication, the CPU of each side, the agent's share
// and its peak RSS.
type figures struct {
	rate             float64
	agentCPU, simCPU time.Duration
	share            float64
	peakKB           int64
}

// runScenario prepares the inbox, starts the emulator and the agent, waits
// for every document and prints the figures.
func runScenario(o options, dir string, s scenario) (figures, error) {
	d := func(name string) string { return filepath.Join(dir, name) }
	for _, n := range []string{"inbox", "outbox", "error", "data", "sim"} {
		if err := os.MkdirAll(d(n), 0o755); err != nil {
			return figures{}, err
		}
	}
	base := o.basePDF(int(s.size))
	var total int64
	for i := range s.docs {
		b := benchdata.Unique(base, s.name+" "+strconv.Itoa(i))
		if err := os.WriteFile(filepath.Join(d("inbox"), fmt.Sprintf("doc-%05d.pdf", i)), b, 0o644); err != nil {
			return figures{}, err
		}
		total += int64(len(b))
	}
	base = nil
	if err := os.WriteFile(d("clients.json"), []byte(fmt.Sprintf(`{%q: {"secret": %q}}`, alias, secret)), 0o600); err != nil {
		return figures{}, err
	}
	if err := os.WriteFile(d("secret"), []byte(secret+"\n"), 0o600); err != nil {
		return figures{}, err
	}
	port, err := freePort()
	if err != nil {
		return figures{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)

	simCmd := exec.Command(o.sim, "--listen", addr, "--clients", d("clients.json"), "--data-dir", d("sim"), "--log-level", "warn")
	simLog, err := os.Create(d("sim.log"))
	if err != nil {
		return figures{}, err
	}
	defer simLog.Close()
	simCmd.Stdout, simCmd.Stderr = simLog, simLog
	if err := simCmd.Start(); err != nil {
		return figures{}, err
	}
	defer stop(simCmd)
	if err := waitListening(addr, 30*time.Second); err != nil {
		return figures{}, fmt.Errorf("emulator: %w (log: %s)", err, d("sim.log"))
	}

	cfg := fmt.Sprintf(`data_dir = %q
log_level = "info"
listen = "off"

[backends.sim]
type = "signstash"
base_url = "http://%s/signstash/einvoice-integration-client-ws"
token_url = "http://%s/oauth2/authorization-server/oauth/token"
client_id = %q
client_secret_file = %q
mode = %q
sync_max_files = %d
poll_interval = %q
timeout = "30m"
%s

[[folders]]
name = "bench"
inbox = %q
outbox = %q
error = %q
archive = ""
include = ["*.pdf"]
backend = "sim"
settle = %q
max_files = %d
max_bytes = "%dB"
max_wait = "10m"
`, d("data"), addr, addr, alias, d("secret"), s.mode, min(s.maxFiles, 2500), o.pollInterval.String(), transportKey(s.transport),
		d("inbox"), d("outbox"), d("error"), o.settle.String(), s.maxFiles, total+1)
	if err := os.WriteFile(d("signagent.toml"), []byte(cfg), 0o600); err != nil {
		return figures{}, err
	}
	if out, err := exec.Command(o.agent, "check", "--config", d("signagent.toml")).CombinedOutput(); err != nil {
		return figures{}, fmt.Errorf("signagent check: %v\n%s", err, out)
	}

	simCPU0 := cpuTime(simCmd.Process.Pid)
	agentCmd := exec.Command(o.agent, "run", "--config", d("signagent.toml"))
	stderr, err := agentCmd.StderrPipe()
	if err != nil {
		return figures{}, err
	}
	agentLog, err := os.Create(d("agent.log"))
	if err != nil {
		return figures{}, err
	}
	defer agentLog.Close()
	start := time.Now()
	if err := agentCmd.Start(); err != nil {
		return figures{}, err
	}
	defer stop(agentCmd)
	pid := agentCmd.Process.Pid
	var perf *exec.Cmd
	if o.perf != "" {
		perf = exec.Command("perf", "record", "-q", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", perfFile(o, s))
		perf.Stdout, perf.Stderr = os.Stderr, os.Stderr
		if err := perf.Start(); err != nil {
			return figures{}, fmt.Errorf("perf: %w", err)
		}
		defer stopPerf(perf, o, s)
	}

	var (
		mu                                 sync.Mutex
		published, failed                  int
		lastClaim, firstBatch, firstSubmit time.Duration
		firstPublish, lastPubl             time.Duration
		done                               = make(chan struct{})
		readDone                           = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		w := bufio.NewWriter(agentLog)
		defer w.Flush()
		closed := false
		for sc.Scan() {
			line := sc.Text()
			w.WriteString(line)
			w.WriteByte('\n')
			at := time.Since(start)
			mu.Lock()
			switch {
			case strings.Contains(line, " msg=claimed "):
				lastClaim = at
			case strings.Contains(line, " msg=batched "):
				if firstBatch == 0 {
					firstBatch = at
				}
			case strings.Contains(line, " msg=submitted "):
				if firstSubmit == 0 {
					firstSubmit = at
				}
			case strings.Contains(line, " msg=published "):
				if published == 0 {
					firstPublish = at
				}
				published++
				lastPubl = at
			case strings.Contains(line, " msg=failed "):
				failed++
			}
			if !closed && published+failed == s.docs {
				closed = true
				close(done)
			}
			mu.Unlock()
		}
	}()

	// Sample the peak while running too: VmHWM is only readable while the
	// process lives, and the agent might die.
	var peakKB, simPeakKB int64
	var firstOut time.Duration // the first signed file placed in the outbox
	sample := func() {
		peakKB = max(peakKB, benchdata.ProcKB(pid, "VmHWM"))
		simPeakKB = max(simPeakKB, benchdata.ProcKB(simCmd.Process.Pid, "VmHWM"))
		if firstOut == 0 && hasFile(d("outbox")) {
			firstOut = time.Since(start)
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(o.timeout)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-readDone:
			return figures{}, fmt.Errorf("the agent exited early (log: %s)", d("agent.log"))
		case <-deadline:
			mu.Lock()
			defer mu.Unlock()
			return figures{}, fmt.Errorf("timed out after %s: %d published, %d failed of %d (log: %s)", o.timeout, published, failed, s.docs, d("agent.log"))
		case <-tick.C:
			sample()
		}
	}
	wall := time.Since(start)
	sample()
	agentCPU, simCPU := cpuTime(pid), cpuTime(simCmd.Process.Pid)-simCPU0
	stop(agentCmd)
	<-readDone

	mu.Lock()
	defer mu.Unlock()
	if failed > 0 {
		fmt.Printf("WARNING %s: %d documents failed (see %s)\n", s.name, failed, d("error"))
	}
	perReq := fmt.Sprintf("%d request(s)", (s.docs+s.maxFiles-1)/s.maxFiles)
	rate := float64(published) / (lastPubl - firstBatch).Seconds()
	fmt.Printf("RESULT signstash %s (%s, %s in all): wall %s, %.1f docs/s end to end, %.1f docs/s from the first batch\n",
		s.name, perReq, human(total), wall.Round(time.Millisecond), float64(published)/wall.Seconds(), rate)
	if firstOut == 0 || firstOut > firstPublish {
		firstOut = firstPublish
	}
	fmt.Printf("RESULT signstash %s phases: intake %s (to the last claim, settle %s), send %s (first batch to first submitted%s), service %s (to the first signed file in the outbox: signing, polls, download), publish %s (to the last published)\n",
		s.name, lastClaim.Round(time.Millisecond), o.settle, (firstSubmit - firstBatch).Round(time.Millisecond), sendNote(s.mode),
		(firstOut - firstSubmit).Round(time.Millisecond), (lastPubl - firstOut).Round(time.Millisecond))
	share := 0.0
	if agentCPU+simCPU > 0 {
		share = 100 * agentCPU.Seconds() / (agentCPU + simCPU).Seconds()
	}
	fmt.Printf("RESULT signstash %s CPU: agent %s, emulator %s (agent %.0f%% of the two); agent peak RSS %s (target < 64 MB), emulator peak RSS %s\n",
		s.name, agentCPU.Round(time.Millisecond), simCPU.Round(time.Millisecond), share, benchdata.MB(peakKB), benchdata.MB(simPeakKB))
	if s.transport != "" {
		fl, err := fileFloor(d("floor"), d("outbox"), s, o.basePDF(int(s.size)))
		if err != nil {
			return figures{}, fmt.Errorf("floor: %w", err)
		}
		printFloor(s.name, fl, agentCPU, simCPU)
	}
	return figures{rate: rate, agentCPU: agentCPU, simCPU: simCPU, share: share, peakKB: peakKB}, nil
}

// basePDF is the document every scenario's documents are made unique from.
func (o options) basePDF(size int) []byte {
	if o.content == "opaque" {
		return benchdata.OpaquePDF(size)
	}
	return benchdata.TinyPDF(size)
}

// transportKey is the backend's transport line: none for the default.
func transportKey(t string) string {
	if t == "" || t == "base64" {
		return ""
	}
	return fmt.Sprintf("transport = %q", t)
}

func perfFile(o options, s scenario) string {
	return filepath.Join(o.perf, strings.NewReplacer(" ", "-", "/", "-").Replace(s.name)+".perf.data")
}

// stopPerf ends a perf record and writes its report by symbol beside it.
func stopPerf(c *exec.Cmd, o options, s scenario) {
	c.Process.Signal(os.Interrupt)
	c.Wait()
	out, err := os.Create(strings.TrimSuffix(perfFile(o, s), ".data") + ".txt")
	if err != nil {
		return
	}
	defer out.Close()
	rep := exec.Command("perf", "report", "-i", perfFile(o, s), "--stdio", "--no-children", "--sort", "symbol", "-g", "none", "--percent-limit", "0.3")
	rep.Stdout, rep.Stderr = out, out
	rep.Run()
	fmt.Printf("perf profile of the agent: %s (report %s)\n", perfFile(o, s), out.Name())
}

// sendNote says what the send phase holds in mode.
func sendNote(mode string) string {
	if mode == "sync" {
		return ": upload, signing and download in one call"
	}
	return ": upload until the register call returns"
}

// hasFile reports whether dir holds at least one regular, visible file.
func hasFile(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(16)
		for _, n := range names {
			if !strings.HasPrefix(n, ".") {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

// stop sends SIGTERM and waits (SIGKILL after 30 s). Safe to call twice.
func stop(c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		<-done
	}
}

// cpuTime is utime+stime of a live process from /proc/PID/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string, limit time.Duration) error {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not listening on " + addr)
}

func human(n int64) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%d MB", n/1e6)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%d KB", n/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
