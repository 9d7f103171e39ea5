package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

// The wait grows with the attempts recorded in the ledger, not from the
// first interval every time, and stays within ±50 % of the schedule.
func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration // with jitter 0.5: the schedule itself
	}{
		{0, 500 * time.Millisecond},
		{1, 500 * time.Millisecond},
		{2, time.Second},
		{3, 2 * time.Second},
		{6, 16 * time.Second},
		{10, 256 * time.Second},
		{11, 5 * time.Minute},
		{1000, 5 * time.Minute},
	} {
		if got := retryWait(tc.n, 0.5); got != tc.want {
			t.Errorf("retryWait(%d) = %s, want %s", tc.n, got, tc.want)
		}
		if lo, hi := retryWait(tc.n, 0), retryWait(tc.n, 0.999999); lo != tc.want/2 || hi < tc.want*3/2-time.Millisecond || hi > tc.want*3/2 {
			t.Errorf("retryWait(%d) spans [%s, %s], want [%s, %s)", tc.n, lo, hi, tc.want/2, tc.want*3/2)
		}
	}
	// With a timestamp authority down for 30 s, a document is tried a
	// handful of times, not 20: attempts at the schedule's midpoints.
	var elapsed time.Duration
	tries := 0
	for n := 1; elapsed < 30*time.Second; n++ {
		elapsed += retryWait(n, 0.5)
		tries++
	}
	if tries > 7 {
		t.Errorf("%d attempts in 30 s, want at most 7", tries)
	}
}

// flaky fails every document of its first n batches with a transient error
// (a timestamp authority that is down), then signs with next.
type flaky struct {
	signing.Backend
	mu    sync.Mutex
	n     int
	calls []time.Time
}

func (f *flaky) Submit(ctx context.Context, b *signing.Batch) (*signing.Operation, error) {
	op, err := f.Backend.Submit(ctx, b)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Now())
	if err == nil && len(f.calls) <= f.n {
		for i := range op.Results {
			op.Results[i].Err = &signagent.Error{Kind: signagent.KindTransient, Code: signagent.CodeTransient, Message: "timestamp authority unreachable"}
		}
	}
	return op, err
}

// A document failing transiently is retried after growing waits counted
// in the ledger, with one warning, and one line when it is signed at last.
func TestTransientRetriesBackOff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logs strings.Builder
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	local, err := signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev", DataDir: filepath.Join(dir, "data"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fl := &flaky{Backend: local, n: 2}
	f := &Folder{Name: "f", Inbox: filepath.Join(dir, "in"), Outbox: filepath.Join(dir, "out"), Error: filepath.Join(dir, "err"),
		Backend: fl, Opts: signing.Options{Type: signing.TypeCAdES}, MaxWait: 10 * time.Millisecond,
		Watch: watcher.Config{Settle: 20 * time.Millisecond, ScanInterval: 100 * time.Millisecond}}
	a := &Agent{Ledger: db, Folders: []*Folder{f}, Logger: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	os.MkdirAll(f.Inbox, 0o755)
	if err := os.WriteFile(filepath.Join(f.Inbox, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	// While it waits, status names it with its attempts and next attempt.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, err := db.Status(context.Background(), []string{"f"})
		if err != nil {
			t.Fatal(err)
		}
		if r := st.Folders[0].Retrying; len(r) == 1 {
			if r[0].File != "a.txt" || r[0].Attempts < 1 || r[0].NextAttempt.IsZero() {
				t.Errorf("status retrying %+v, want a.txt with attempts and a next attempt", r[0])
			}
			break
		}
		if time.Now().After(end) {
			t.Fatal("status never listed the document as retrying")
		}
	}
	out := filepath.Join(f.Outbox, "a.txt.p7s")
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(out); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("not signed within 30 s; log:\n%s", logs.String())
		}
	}
	fl.mu.Lock()
	calls := slices.Clone(fl.calls)
	fl.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d submissions, want 3 (two failures, one success)", len(calls))
	}
	// Waits of retryWait(1) and retryWait(2): 0.25–0.75 s, then 0.5–1.5 s.
	if g1, g2 := calls[1].Sub(calls[0]), calls[2].Sub(calls[1]); g1 < retryWait(1, 0) || g2 < retryWait(2, 0) {
		t.Errorf("waits between attempts %s, %s; want at least %s, %s", g1, g2, retryWait(1, 0), retryWait(2, 0))
	}
	d, err := db.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 2 {
		t.Errorf("ledger attempts = %d, want 2", d.Attempts)
	}
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if n := strings.Count(text, "will retry with growing waits"); n != 1 {
		t.Errorf("%d retry warnings, want 1:\n%s", n, text)
	}
	if !strings.Contains(text, "document signed after failed attempts") {
		t.Errorf("no line when the document was signed at last:\n%s", text)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
