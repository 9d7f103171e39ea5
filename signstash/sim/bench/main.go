// Command bench measures the Sign'Stash client against signstash-sim: wall
// time, documents per second and the client's peak heap and RSS for one
// async request of 2,500 x 200 KB, one of 25 x 20 MB, and 1 x 50 against
// 50 x 1 sync requests. The emulator runs in a child process (this program
// re-executed with -serve) so that only the client's memory is measured; it
// signs with the local signer and a development certificate.
//
//	go run ./signstash/sim/bench [-small 2500] [-large 25] [-dir DIR]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

const alias, secret = "PRT.000000000-PRT.000000000-bench", "bench-secret"

func main() {
	serve := flag.String("serve", "", "internal: run the emulator on this address")
	small := flag.Int("small", 2500, "documents of 200 KB in the async request")
	large := flag.Int("large", 25, "documents of 20 MB in the async request")
	dir := flag.String("dir", "", "work directory (default: a temporary one)")
	flag.Parse()
	if *serve != "" {
		if err := runSim(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "bench emulator:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*small, *large, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runSim(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d, err := os.MkdirTemp("", "bench-sim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d)
	local, err := signer.NewLocal(signer.LocalConfig{Name: "sim", Certificate: "dev", DataDir: d, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	c, err := sim.StartCluster(sim.Config{
		Clients: map[string]sim.Client{alias: {Secret: secret}}, DataDir: filepath.Join(d, "data"), Workers: runtime.NumCPU(),
		Sign: func(ctx context.Context, in, out, name string, t signing.Type, o signing.Options) error {
			o.Type = t
			_, err := local.SignFile(ctx, in, out, name, o)
			return err
		},
	}, addr, 1)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	return c.Close()
}

func run(small, large int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:18391"
	child := exec.Command(self, "-serve", addr)
	child.Stderr = os.Stderr
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { child.Process.Signal(os.Interrupt); child.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("emulator did not start: %q", line)
	}
	base := "http://" + addr
	newClient := func(mode string) (*signstash.Client, error) {
		return signstash.New(signstash.Config{Name: "bench", BaseURL: base + "/signstash/einvoice-integration-client-ws",
			TokenURL: base + "/oauth2/authorization-server/oauth/token", ClientID: alias, ClientSecret: secret,
			Mode: mode, PollInterval: 100 * time.Millisecond, Timeout: 30 * time.Minute})
	}
	fmt.Printf("client: %s %s/%s, GOMAXPROCS %d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	async, err := newClient(signstash.ModeAsync)
	if err != nil {
		return err
	}
	sync1, err := newClient(signstash.ModeSync)
	if err != nil {
		return err
	}
	ref := 0
	batch := func(n int, size int64, tag string) (*signing.Batch, error) {
		ref++
		src := filepath.Join(dir, fmt.Sprintf("src-%d.pdf", size))
		if _, err := os.Stat(src); err != nil {
			if err := writePDF(src, size); err != nil {
				return nil, err
			}
		}
		b := &signing.Batch{Ref: fmt.Sprintf("bench-%s-%d-%d", tag, ref, time.Now().UnixNano())}
		for i := range n {
			p := filepath.Join(dir, fmt.Sprintf("%s-%d-%05d.pdf", tag, ref, i))
			if err := os.Link(src, p); err != nil {
				return nil, err
			}
			b.Docs = append(b.Docs, signing.Doc{Ref: fmt.Sprintf("%s.%05d", b.Ref, i), Name: filepath.Base(p), Path: p, Size: size,
				Out: p + ".signed", Opts: signing.Options{Type: signing.TypePAdES, Reason: "bench"}})
		}
		return b, nil
	}
	scenario := func(name string, be *signstash.Client, batches []*signing.Batch) error {
		runtime.GC()
		resetHWM()
		m := startHeapSampler()
		start := time.Now()
		docs := 0
		for _, b := range batches {
			op, err := be.Submit(context.Background(), b)
			if err != nil {
				return fmt.Errorf("%s: submit: %w", name, err)
			}
			for !op.Done {
				time.Sleep(op.PollAfter)
				if op, err = be.Poll(context.Background(), b, op); err != nil {
					return fmt.Errorf("%s: poll: %w", name, err)
				}
			}
			for _, r := range op.Results {
				if r.Err != nil {
					return fmt.Errorf("%s: %s: %w", name, r.Ref, r.Err)
				}
			}
			docs += len(b.Docs)
		}
		wall := time.Since(start)
		heap := m.stop()
		fmt.Printf("%-28s docs %5d  wall %8.2fs  %7.1f docs/s  peak heap %6.1f MB  peak RSS %6.1f MB\n",
			name, docs, wall.Seconds(), float64(docs)/wall.Seconds(), float64(heap)/(1<<20), float64(hwm())/(1<<20))
		for _, b := range batches {
			for _, d := range b.Docs {
				os.Remove(d.Path)
				os.Remove(d.Out)
			}
		}
		return nil
	}
	mk := func(count, n int, size int64, tag string) ([]*signing.Batch, error) {
		var bs []*signing.Batch
		for range count {
			b, err := batch(n, size, tag)
			if err != nil {
				return nil, err
			}
			bs = append(bs, b)
		}
		return bs, nil
	}
	type sc struct {
		name     string
		be       *signstash.Client
		count, n int
		size     int64
		tag      string
	}
	for _, s := range []sc{
		{"sync 1 x 50 x 200KB", sync1, 1, 50, 200 << 10, "s1x50"},
		{"sync 50 x 1 x 200KB", sync1, 50, 1, 200 << 10, "s50x1"},
		{fmt.Sprintf("async 1 x %d x 200KB", small), async, 1, small, 200 << 10, "a2500"},
		{fmt.Sprintf("async 1 x %d x 20MB", large), async, 1, large, 20 << 20, "a25"},
	} {
		bs, err := mk(s.count, s.n, s.size, s.tag)
		if err != nil {
			return err
		}
		if err := scenario(s.name, s.be, bs); err != nil {
			return err
		}
	}
	return nil
}

// writePDF writes a valid one-page PDF of about size bytes (the page's
// content stream is padded with comment lines).
func writePDF(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var off int64
	var offs []int64
	put := func(s string) { w.WriteString(s); off += int64(len(s)) }
	put("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj := func(body string) {
		offs = append(offs, off)
		put(fmt.Sprintf("%d 0 obj\n%s\nendobj\n", len(offs), body))
	}
	obj("<</Type/Catalog/Pages 2 0 R>>")
	obj("<</Type/Pages/Kids[3 0 R]/Count 1>>")
	obj("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>")
	n := max(size-600, 64)
	line := "% padding padding padding padding padding padding padding padding\n"
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf ET\n")
	offs = append(offs, off)
	put(fmt.Sprintf("4 0 obj\n<</Length %d>>\nstream\n", n))
	written := int64(0)
	for written+int64(len(line)) <= n {
		w.WriteString(line)
		written += int64(len(line))
	}
	w.WriteString(strings.Repeat("\n", int(n-written)))
	off += n
	put("\nendstream\nendobj\n")
	xref := off
	put(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(offs)+1))
	for _, o := range offs {
		put(fmt.Sprintf("%010d 00000 n \n", o))
	}
	put(fmt.Sprintf("trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref))
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

type sampler struct {
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

// startHeapSampler records the peak HeapInuse every 20 ms until stop.
func startHeapSampler() *sampler {
	s := &sampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peak.Load() {
				s.peak.Store(ms.HeapInuse)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() uint64 { close(s.done); s.wg.Wait(); return s.peak.Load() }

// resetHWM resets the process's peak RSS (Linux), so each scenario reports
// its own peak.
func resetHWM() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// hwm is the peak resident set size (VmHWM) in bytes, 0 where unknown.
func hwm() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
