// Command share measures how long a document written to a network share
// takes to be signed: the inbox is a FUSE bindfs mount of a directory, and
// the documents are written into that directory underneath the mount, as
// another machine writes to an SMB or NFS share. No file event reaches the
// agent; only its scans find the documents.
//
// Each document is written under a temporary name and renamed into place at
// a random moment (gaps uniform in [0, 2×gap], -burst documents at a time;
// with -in-place every other one is written under its final name, slowly);
// its latency runs from the rename (or last write) to the signed file's
// appearance in the outbox (polled every 10 ms).
// With -agents 2 two agents with separate data directories share the inbox,
// and the run checks that every document was published and archived exactly
// once. Lines starting with "RESULT" are the figures scripts/bench.sh
// gathers.
//
//	go run ./internal/bench/share -bin bin/signagent -docs 60
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
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
	bin     string
	docs    int
	gap     time.Duration
	scan    time.Duration
	settle  time.Duration
	agents  int
	burst   int
	inPlace bool
	timeout time.Duration
	dir     string
	keep    bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/signagent", "signagent binary")
	flag.IntVar(&o.docs, "docs", 60, "documents written")
	flag.DurationVar(&o.gap, "gap", 700*time.Millisecond, "mean time between two writes")
	flag.DurationVar(&o.scan, "scan", 0, "folder scan_interval (0: left out, the agent chooses by file system)")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "folder settle")
	flag.IntVar(&o.agents, "agents", 1, "agents on the inbox, each with its own data directory")
	flag.IntVar(&o.burst, "burst", 1, "documents written together after each gap")
	flag.BoolVar(&o.inPlace, "in-place", false, "write every other document in place, in two halves 300 ms apart, instead of by rename")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Parse()
	if err := run(o); errors.Is(err, errSkipped) {
		fmt.Println("RESULT share:", err)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "share:", err)
		os.Exit(1)
	}
}

// errSkipped: FUSE cannot be used here; nothing was measured.
var errSkipped = errors.New("skipped")

func run(o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w (build it with `make build`)", err)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: /dev/fuse is missing (FUSE cannot be mounted here)", errSkipped)
	}
	if _, err := exec.LookPath("bindfs"); err != nil {
		return fmt.Errorf("%w: bindfs is not installed (apt-get install bindfs fuse3)", errSkipped)
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "signagent-bench-share-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	under, mnt := filepath.Join(dir, "under"), filepath.Join(dir, "share")
	for _, d := range []string{"inbox", "outbox", "error", "archive"} {
		if err := os.MkdirAll(filepath.Join(under, d), 0o750); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(mnt, 0o750); err != nil {
		return err
	}
	if out, err := exec.Command("bindfs", under, mnt).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: bindfs %s: %v %s", errSkipped, mnt, err, strings.TrimSpace(string(out)))
	}
	defer unmount(mnt)
	// Interrupted (the agents, in the same process group, stop too): do not
	// leave the mount behind.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			exec.Command("fusermount3", "-uz", mnt).Run()
			os.Exit(130)
		}
	}()

	var procs []*exec.Cmd
	var lines sync.WaitGroup
	ready := make(chan string, o.agents)
	claimed := make([]atomic.Int64, o.agents) // "claimed" log lines per agent
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			p.Wait()
		}
		lines.Wait()
	}()
	for a := range o.agents {
		cfgPath, err := writeConfig(o, dir, mnt, a)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "run", "--config", cfgPath)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		lines.Go(func() {
			s := bufio.NewScanner(stderr)
			s.Buffer(make([]byte, 1<<20), 1<<20)
			said := false
			for s.Scan() {
				l := s.Text()
				if strings.Contains(l, "msg=claimed") {
					claimed[a].Add(1)
				}
				if !said && strings.Contains(l, "scan_interval=") {
					said = true
					ready <- l
				}
				if os.Getenv("SHARE_DEBUG") != "" || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					fmt.Printf("agent %d: %s\n", a, l)
				}
			}
		})
	}
	for range o.agents {
		select {
		case l := <-ready:
			fmt.Println("agent:", l)
		case <-time.After(30 * time.Second):
			return errors.New("no agent said it was watching within 30s")
		}
	}
	// What check says about the inbox (after start-up: run makes the
	// development certificate).
	out, err := exec.Command(bin, "check", "--config", filepath.Join(dir, "agent0.toml")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("signagent check: %v\n%s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("check:", l)
	}

	// Write the documents underneath the mount, at random moments.
	tiny := benchdata.TinyPDF(3000)
	written := make([]time.Time, o.docs)
	var mu sync.Mutex // guards written
	writeErr := make(chan error, 1)
	done := func(i int) {
		mu.Lock()
		written[i] = time.Now()
		mu.Unlock()
	}
	fail := func(err error) {
		select {
		case writeErr <- err:
		default:
		}
	}
	var writers sync.WaitGroup
	defer writers.Wait()
	go func() {
		for i := 0; i < o.docs; {
			time.Sleep(time.Duration(rand.Int64N(int64(2*o.gap) + 1)))
			for end := min(i+o.burst, o.docs); i < end; i++ {
				n := i // the writer below outlives this iteration
				name := fmt.Sprintf("doc-%04d.pdf", n)
				data := benchdata.Unique(tiny, strconv.Itoa(n))
				if o.inPlace && i%2 == 1 {
					// A producer writing in place, slowly: two halves
					// 300 ms apart under the final name.
					writers.Go(func() {
						if err := writeSlowly(filepath.Join(under, "inbox", name), data); err != nil {
							fail(err)
							return
						}
						done(n)
					})
					continue
				}
				tmp := filepath.Join(under, "inbox", "."+name+".tmp")
				if err := os.WriteFile(tmp, data, 0o640); err != nil {
					fail(err)
					return
				}
				if err := os.Rename(tmp, filepath.Join(under, "inbox", name)); err != nil {
					fail(err)
					return
				}
				done(i)
			}
		}
	}()

	lat := make([]time.Duration, 0, o.docs)
	seen := map[string]bool{}
	deadline := time.Now().Add(o.timeout)
	for len(seen) < o.docs {
		select {
		case err := <-writeErr:
			return err
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d documents signed within %s", len(seen), o.docs, o.timeout)
		}
		ents, err := os.ReadDir(filepath.Join(under, "outbox"))
		if err != nil {
			return err
		}
		now := time.Now()
		for _, e := range ents {
			n := e.Name()
			if seen[n] || strings.HasPrefix(n, ".") {
				continue
			}
			seen[n] = true
			i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "doc-"), ".pdf"))
			mu.Lock()
			w := time.Time{}
			if err == nil && i < o.docs {
				w = written[i]
			}
			mu.Unlock()
			if w.IsZero() {
				continue // a suffixed name: counted below
			}
			lat = append(lat, now.Sub(w))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // let archiving finish
	published, _ := count(filepath.Join(under, "outbox"))
	archived, _ := count(filepath.Join(under, "archive"))
	errored, _ := count(filepath.Join(under, "error"))

	interval := o.scan
	label := interval.String()
	if interval == 0 {
		interval, label = 3*time.Second, "default (3s)"
	}
	median, p90, p99 := benchdata.Percentile(lat, 50), benchdata.Percentile(lat, 90), benchdata.Percentile(lat, 99)
	maxLat := benchdata.Percentile(lat, 100)
	tMedian := o.settle + interval/2 + 500*time.Millisecond
	tP99 := o.settle + interval + time.Second
	target := fmt.Sprintf("target median <= %s: %s; p99 <= %s: %s", tMedian, verdict(median <= tMedian), tP99, verdict(p99 <= tP99))
	if o.burst > 1 || o.inPlace {
		target = "bursts and slow writers: no target"
	}
	fmt.Printf("RESULT share: bindfs (no events), %d agent(s), settle %s, scan_interval %s, %d docs: write-to-signed median %s, p90 %s, p99 %s, max %s (%s)\n",
		o.agents, o.settle, label, o.docs, r(median), r(p90), r(p99), r(maxLat), target)
	var split []string
	for a := range claimed {
		split = append(split, strconv.FormatInt(claimed[a].Load(), 10))
	}
	fmt.Printf("RESULT share: %d published, %d archived, %d error files for %d documents (want %d, %d, 0); claimed per agent: %s\n",
		published, archived, errored, o.docs, o.docs, o.docs, strings.Join(split, " + "))
	if published != o.docs || archived != o.docs || errored != 0 {
		return fmt.Errorf("not every document exactly once: %d published, %d archived, %d in error/", published, archived, errored)
	}
	return nil
}

func writeConfig(o options, dir, mnt string, a int) (string, error) {
	data := filepath.Join(dir, fmt.Sprintf("data%d", a))
	scan := ""
	if o.scan > 0 {
		scan = fmt.Sprintf("scan_interval = %q\n", o.scan.String())
	}
	cfg := fmt.Sprintf(`data_dir = %q
listen = "off"
log_level = "info"
log_format = "text"

[backends.local]
type = "local"
certificate = "dev"

[[folders]]
name = "share"
inbox = %q
outbox = %q
error = %q
archive = %q
include = ["*.pdf"]
settle = %q
%s`, data, filepath.Join(mnt, "inbox"), filepath.Join(mnt, "outbox"), filepath.Join(mnt, "error"), filepath.Join(mnt, "archive"), o.settle.String(), scan)
	p := filepath.Join(dir, fmt.Sprintf("agent%d.toml", a))
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// count returns the regular files under dir (not in dot-directories).
func count(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n, err
}

// writeSlowly writes data to p in two halves, 300 ms apart.
func writeSlowly(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data[:len(data)/2]); err != nil {
		f.Close()
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := f.Write(data[len(data)/2:]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func unmount(mnt string) {
	for _, c := range [][]string{{"fusermount3", "-u", mnt}, {"fusermount", "-u", mnt}, {"umount", mnt}} {
		if exec.Command(c[0], c[1:]...).Run() == nil {
			return
		}
	}
	fmt.Fprintln(os.Stderr, "share: could not unmount", mnt)
}

func r(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
