package monitor

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

// BenchmarkObserver measures what the pipeline pays per event.
func BenchmarkObserver(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Transition("invoices", signagent.StatePublished)
			m.Stage("invoices", "publish", 3*time.Millisecond)
		}
	})
}

// BenchmarkScrape measures one /metrics scrape of an agent with 50 folders.
func BenchmarkScrape(b *testing.B) {
	st := &signagent.Status{Time: time.Now(), LedgerBytes: 1 << 30}
	m := NewMetrics()
	for i := range 50 {
		name := fmt.Sprintf("company-%02d", i)
		st.Folders = append(st.Folders, signagent.FolderStatus{Name: name,
			Counts: map[signagent.State]int{signagent.StatePublished: 1000, signagent.StateBatched: 5}})
		for _, s := range states {
			m.Transition(name, s)
		}
		m.Batch(name, 50, 10<<20)
		m.Stage(name, "submit", time.Second)
	}
	m.Observe(func(context.Context) (*signagent.Status, error) { return st, nil })
	h := m.Handler()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		size = rec.Body.Len()
		io.Discard.Write(rec.Body.Bytes())
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
