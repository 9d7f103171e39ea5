package watcher

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	backlogFiles   = flag.Int("backlog.files", 100_000, "files in BenchmarkBacklog's inbox")
	backlogPending = flag.Int("backlog.maxpending", defaultMaxPending, "BenchmarkBacklog: bound on files waiting for their second look")
	backlogNoClaim = flag.Bool("backlog.noclaim", false, "BenchmarkBacklog: leave reported files in place (measures the watcher alone)")
)

// BenchmarkBacklog measures a backlog of 100,000 small files present at
// start-up, with the default Settle and file events on: the time from Run to
// the first and to the last report, and the peak heap in use and peak RSS
// while it flows. The callback claims each file as the agent does, by a
// rename into inbox/.signagent. Run it with -benchtime=1x.
func BenchmarkBacklog(b *testing.B) {
	n := *backlogFiles
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		claim := filepath.Join(dir, ".signagent")
		if err := os.Mkdir(claim, 0o700); err != nil {
			b.Fatal(err)
		}
		data := []byte(strings.Repeat("%PDF-1.7 backlog\n", 60)) // about 1 KB
		for i := range n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("invoice-%06d.pdf", i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		w, err := New(Config{Root: dir, Include: []string{"*.pdf"}})
		if err != nil {
			b.Fatal(err)
		}
		w.maxPending = *backlogPending
		runtime.GC()
		resetPeakRSS()
		var peakHeap uint64
		sample := func() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex // guards peakHeap between the sampler and the callback
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
					mu.Lock()
					sample()
					mu.Unlock()
				}
			}
		})
		var got int
		var first, last time.Duration
		b.StartTimer()
		t0 := time.Now()
		err = w.Run(ctx, func(_ context.Context, f File) {
			if *backlogNoClaim {
				// Each file is reported once per scan; the first scan is
				// the only one within the default ScanInterval here.
			} else if err := os.Rename(f.Path, filepath.Join(claim, filepath.Base(f.Path))); err != nil {
				return // already claimed after an earlier report
			}
			got++
			if got == 1 {
				first = time.Since(t0)
			}
			if got%5000 == 0 {
				mu.Lock()
				sample()
				mu.Unlock()
			}
			if got == n {
				last = time.Since(t0)
				cancel()
			}
		})
		b.StopTimer()
		cancel()
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		hwm := peakRSS()
		b.ReportMetric(first.Seconds(), "s-first")
		b.ReportMetric(last.Seconds(), "s-last")
		b.ReportMetric(float64(peakHeap)/(1<<20), "MB-heap-peak")
		b.ReportMetric(float64(hwm)/(1<<10), "MB-VmHWM")
		b.Logf("%d files: first report after %s, last after %s (%.0f files/s); peak HeapInuse %.1f MB, peak RSS (VmHWM) %.1f MB",
			n, first.Round(time.Millisecond), last.Round(time.Millisecond), float64(n)/last.Seconds(),
			float64(peakHeap)/(1<<20), float64(hwm)/(1<<10))
	}
}

// resetPeakRSS resets the kernel's peak-RSS figure for this process, where
// Linux allows it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in KiB, or 0 where /proc is not available.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
