// Command backlog starts the real signagent binary on an inbox that already
// holds a large backlog of small PDFs, and reports the time from process
// start to the first published document, the peak RSS (VmHWM, sampled from
// /proc while it runs) and, unless -drain=false, the time to publish them all.
//
// The documents are one tiny generated PDF, copied with a unique trailing
// comment each. Publications are counted from the agent's own log lines
// (log level info, text format), read from its standard error as they come.
// Lines starting with "RESULT" are the figures scripts/bench.sh gathers.
//
//	go run ./internal/bench/backlog -bin bin/signagent -files 100000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/signagent/signagent/internal/bench/benchdata"
)

type options struct {
	bin      string
	files    int
	size     int
	settle   time.Duration
	maxFiles int
	workers  int
	drain    bool
	observe  time.Duration
	timeout  time.Duration
	dir      string
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/signagent", "signagent binary")
	flag.IntVar(&o.files, "files", 100000, "documents in the inbox at start-up")
	flag.IntVar(&o.size, "size", 3000, "approximate size of each PDF in bytes")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "folder settle time (the product default is 2s)")
	flag.IntVar(&o.maxFiles, "max-files", 50, "folder max_files")
	flag.IntVar(&o.workers, "workers", 0, "local backend workers (0: one per CPU)")
	flag.BoolVar(&o.drain, "drain", false, "wait until every document is published")
	flag.DurationVar(&o.observe, "observe", 20*time.Second, "without -drain, keep sampling RSS this long after the first publication")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "backlog:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w (build it with `make build`)", err)
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "signagent-bench-backlog-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	folders := map[string]string{}
	for _, n := range []string{"inbox", "outbox", "error", "archive", "data"} {
		folders[n] = filepath.Join(dir, n)
		if err := os.MkdirAll(folders[n], 0o750); err != nil {
			return err
		}
	}
	cfgPath := filepath.Join(dir, "signagent.toml")
	cfg := fmt.Sprintf(`data_dir = %q
listen = "off"
log_level = "info"
log_format = "text"

[backends.local]
type = "local"
certificate = "dev"
workers = %d

[[folders]]
name = "backlog"
inbox = %q
outbox = %q
error = %q
archive = %q
include = ["*.pdf"]
settle = %q
max_files = %d
`, folders["data"], o.workers, folders["inbox"], folders["outbox"], folders["error"], folders["archive"], o.settle.String(), o.maxFiles)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}

	// The development certificate is created on first use; create it now
	// (with `check`) so the start-up measured is an ordinary one.
	if out, err := exec.Command(bin, "check", "--config", cfgPath).CombinedOutput(); err != nil {
		return fmt.Errorf("signagent check: %v\n%s", err, out)
	}

	tiny := benchdata.TinyPDF(o.size)
	genStart := time.Now()
	var total int64
	for i := range o.files {
		b := benchdata.Unique(tiny, strconv.Itoa(i))
		// Producers write elsewhere and rename in; writing in place is the
		// same for files that are complete before the agent starts.
		if err := os.WriteFile(filepath.Join(folders["inbox"], fmt.Sprintf("inv-%06d.pdf", i)), b, 0o640); err != nil {
			return err
		}
		total += int64(len(b))
	}
	fmt.Printf("backlog: %d PDFs of ~%d bytes (%.1f MB) written in %s; settle %s, max_files %d, workers %s, listen off, log level info\n",
		o.files, int(total)/o.files, float64(total)/1e6, time.Since(genStart).Round(time.Millisecond), o.settle, o.maxFiles, workersText(o.workers))

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer logf.Close()

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	var (
		published, failed atomic.Int64
		firstAt, lastAt   atomic.Int64 // nanoseconds since start, from the log
		fileAt            atomic.Int64 // first file seen in the outbox
		startedAt         atomic.Int64
		peakKB            atomic.Int64
		allDone           = make(chan struct{})
		doneOnce          sync.Once
		readDone          = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		w := bufio.NewWriter(logf)
		defer w.Flush()
		for sc.Scan() {
			line := sc.Text()
			w.WriteString(line)
			w.WriteByte('\n')
			since := int64(time.Since(start))
			switch {
			case strings.Contains(line, " msg=published "):
				if published.Add(1) == 1 {
					firstAt.Store(since)
				}
				lastAt.Store(since)
			case strings.Contains(line, " msg=failed "):
				failed.Add(1)
			case strings.Contains(line, `msg="agent started"`):
				startedAt.Store(since)
			}
			if published.Load()+failed.Load() == int64(o.files) {
				doneOnce.Do(func() { close(allDone) })
			}
		}
	}()
	sample := func() {
		if kb := benchdata.ProcKB(pid, "VmHWM"); kb > peakKB.Load() {
			peakKB.Store(kb)
		}
		if fileAt.Load() == 0 && outboxHasFile(folders["outbox"]) {
			fileAt.Store(int64(time.Since(start)))
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	firstReported := false
	var observeUntil <-chan time.Time
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
loop:
	for {
		select {
		case <-tick.C:
			sample()
			if !firstReported && firstAt.Load() > 0 {
				firstReported = true
				fmt.Printf("first publication logged %s after process start (first file in the outbox at %s; agent started after %s); VmHWM so far %s\n",
					time.Duration(firstAt.Load()).Round(time.Millisecond), time.Duration(fileAt.Load()).Round(time.Millisecond),
					time.Duration(startedAt.Load()).Round(time.Millisecond), benchdata.MB(peakKB.Load()))
				if !o.drain {
					observeUntil = time.After(o.observe)
				}
			}
		case <-observeUntil:
			break loop
		case <-allDone:
			sample()
			break loop
		case <-exited:
			<-readDone
			return fmt.Errorf("signagent exited early: %v (log: %s)", waitErr, logf.Name())
		case <-ctx.Done():
			sample()
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			return fmt.Errorf("timed out after %s: %d published, %d failed of %d", o.timeout, published.Load(), failed.Load(), o.files)
		}
	}
	sample()
	drained := time.Since(start)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	<-readDone
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return waitErr
	}
	if firstAt.Load() == 0 {
		return fmt.Errorf("nothing published (log: %s)", logf.Name())
	}
	first := time.Duration(firstAt.Load())
	watched := "until drained"
	if !o.drain {
		watched = fmt.Sprintf("over the first %s, %d published by then", drained.Round(time.Second), published.Load())
	}
	fmt.Printf("RESULT backlog of %d x %d-byte PDFs: first published %s after process start (first file in the outbox %s; target < 5 s; settle %s)\n",
		o.files, int(total)/o.files, first.Round(time.Millisecond), time.Duration(fileAt.Load()).Round(time.Millisecond), o.settle)
	fmt.Printf("RESULT backlog peak RSS %s (target < 128 MB), sampled every 10 ms %s\n", benchdata.MB(peakKB.Load()), watched)
	if o.drain {
		n := published.Load()
		last := time.Duration(lastAt.Load())
		fmt.Printf("RESULT backlog drained: %d published, %d failed in %s = %.0f docs/s (first to last %.0f docs/s)\n",
			n, failed.Load(), drained.Round(time.Millisecond), float64(n)/drained.Seconds(), float64(n-1)/(last-first).Seconds())
		if failed.Load() > 0 {
			return fmt.Errorf("%d documents failed (see %s)", failed.Load(), folders["error"])
		}
		outs, err := os.ReadDir(folders["outbox"])
		if err != nil {
			return err
		}
		if len(outs) != o.files {
			return fmt.Errorf("outbox holds %d entries, want %d", len(outs), o.files)
		}
	}
	return nil
}

// outboxHasFile reports whether dir holds at least one entry; it reads one
// name only, so it stays cheap however full the directory gets.
func outboxHasFile(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}

func workersText(n int) string {
	if n <= 0 {
		return "one per CPU"
	}
	return strconv.Itoa(n)
}
