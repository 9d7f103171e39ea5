package signstash_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// TestStreamingLargeRequest sends a 110 MB document (about 147 MB of
// base64) through client and emulator in one process and checks the heap
// never held it: the peak heap in use stays far below the document size.
func TestStreamingLargeRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 110 MB four times")
	}
	e := newEnv(t, 1, sim.Config{Sign: sim.MarkerSign}, func(c *signstash.Config) { c.Mode = signstash.ModeSync })
	const size = 110 << 20
	p := filepath.Join(e.dir, "big.pdf")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(pseudoRandom{}, size)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := h.Sum(nil)
	b := &signing.Batch{Ref: "big", Docs: []signing.Doc{{Ref: "big.1", Name: "big.pdf", Path: p, Size: size, Out: p + ".signed",
		Opts: signing.Options{Type: signing.TypePAdES}}}}

	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	op, err := e.client.Submit(context.Background(), b)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if op.Results[0].Err != nil {
		t.Fatal(op.Results[0].Err)
	}
	out, _ := os.Open(b.Docs[0].Out)
	defer out.Close()
	h2 := sha256.New()
	io.CopyN(h2, out, size)
	if string(h2.Sum(nil)) != string(want) {
		t.Fatal("signed output does not start with the original bytes")
	}
	t.Logf("peak heap in use: %.1f MB for a %d MB document", float64(peak.Load())/(1<<20), size>>20)
	if peak.Load() > 48<<20 {
		t.Fatalf("peak heap %.1f MB: a document was held in memory", float64(peak.Load())/(1<<20))
	}
}

// pseudoRandom is a cheap endless byte source (xorshift).
type pseudoRandom struct{}

var prState uint64 = 88172645463325252

func (pseudoRandom) Read(p []byte) (int, error) {
	x := prState
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x)
	}
	prState = x
	return len(p), nil
}
