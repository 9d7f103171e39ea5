package watcher

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScan measures one full scan of an inbox holding 10,000 and
// 100,000 files:
//
//   - deep: list the folder and read every file's metadata (start-up, and
//     at least once a minute);
//   - listed: a shallow scan that must list the folder (it changed, or its
//     stamps are not trusted, as on NFS) but does not read files already
//     reported and left in place;
//   - unchanged: a shallow scan of a folder whose stamp has not changed
//     since its last listing: one stat.
//
// files/op is how many files' metadata the scan read.
func BenchmarkScan(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		dir := b.TempDir()
		for i := range n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("invoice-%06d.pdf", i)), []byte("%PDF-1.7\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for _, mode := range []string{"deep", "listed", "unchanged"} {
			b.Run(fmt.Sprintf("files=%d/%s", n, mode), func(b *testing.B) {
				w, err := New(Config{Root: dir, NoEvents: true})
				if err != nil {
					b.Fatal(err)
				}
				w.maxPending = math.MaxInt
				w.quiet = 0
				fs := remoteFS("smb")
				if mode == "listed" {
					fs = remoteFS("nfs")
				}
				w.detect = func(string) (FS, error) { return fs, nil }
				l := newLoop(context.Background(), w, func(context.Context, []File) {})
				l.fs = fs
				// Two deep scans: every file reported and left (known),
				// the directory's stamp quiet and listed.
				for range 2 {
					l.scanNow(true)
					for rel := range l.pend.byRel {
						l.known[rel] = l.gen
					}
					l.pend = newPending()
				}
				stats := w.nstat.Load()
				b.ResetTimer()
				for range b.N {
					l.scanNow(mode == "deep")
					if mode == "deep" {
						b.StopTimer()
						l.pend = newPending()
						b.StartTimer()
					}
				}
				b.ReportMetric(float64(w.nstat.Load()-stats)/float64(b.N), "files/op")
			})
		}
	}
}

// scanNow makes one full scan from start to end, without pausing.
func (l *loop) scanNow(deep bool) {
	l.requestScan(deep)
	for l.sc != nil {
		l.scanStep()
	}
}
