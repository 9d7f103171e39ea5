package agent

import (
	"testing"
	"time"

	"github.com/signagent/signagent/ledger"
)

func TestBatcherTriggers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	doc := func(size int64) *item { return &item{doc: &ledger.Doc{Size: size}} }

	t.Run("count", func(t *testing.T) {
		b := &batcher{maxFiles: 3, maxBytes: 1 << 30, maxWait: time.Minute}
		if got := b.add(doc(1), t0); got != nil {
			t.Fatalf("flushed after 1 of 3: %d", len(got))
		}
		if got := b.add(doc(1), t0); got != nil {
			t.Fatalf("flushed after 2 of 3")
		}
		if got := b.add(doc(1), t0); len(got) != 3 {
			t.Fatalf("want 3 at the count limit, got %d", len(got))
		}
		if !b.deadline().IsZero() {
			t.Fatal("deadline left after flush")
		}
	})
	t.Run("bytes", func(t *testing.T) {
		b := &batcher{maxFiles: 100, maxBytes: 1000, maxWait: time.Minute}
		b.add(doc(600), t0)
		if got := b.add(doc(400), t0); len(got) != 2 {
			t.Fatalf("want 2 at the byte limit, got %d", len(got))
		}
	})
	t.Run("wait", func(t *testing.T) {
		b := &batcher{maxFiles: 100, maxBytes: 1 << 30, maxWait: 5 * time.Second}
		b.add(doc(1), t0)
		b.add(doc(1), t0.Add(4*time.Second)) // a later arrival does not extend the wait
		if d := b.deadline(); !d.Equal(t0.Add(5 * time.Second)) {
			t.Fatalf("deadline %v, want first arrival + max_wait", d)
		}
		if got := b.due(t0.Add(4999 * time.Millisecond)); got != nil {
			t.Fatal("flushed before max_wait")
		}
		if got := b.due(t0.Add(5 * time.Second)); len(got) != 2 {
			t.Fatalf("want 2 at max_wait, got %d", len(got))
		}
		if got := b.due(t0.Add(time.Hour)); got != nil {
			t.Fatal("empty batcher flushed")
		}
	})
}

func TestCandidateNames(t *testing.T) {
	for _, c := range []struct {
		name string
		i    int
		want string
	}{
		{"a.pdf", 0, "a.pdf"},
		{"a.pdf", 1, "a (1).pdf"},
		{"a.pdf", 2, "a (2).pdf"},
		{"noext", 1, "noext (1)"},
		{"data.csv.p7s", 1, "data (1).csv.p7s"},
		{"invoice 7.xml", 3, "invoice 7 (3).xml"},
	} {
		if got := candidate(c.name, c.i); got != c.want {
			t.Errorf("candidate(%q, %d) = %q, want %q", c.name, c.i, got, c.want)
		}
	}
}
