package monitor

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/signagent/signagent"
)

func TestProgressLogsBacklogRateAndETA(t *testing.T) {
	st := sampleStatus()
	st.Folders[0].Counts = map[signagent.State]int{signagent.StateBatched: 30, signagent.StateSigned: 10, signagent.StatePublished: 500}
	st.Folders[1].Counts = map[signagent.State]int{signagent.StatePublished: 7}
	st.Folders[1].Oldest = nil
	fs := &fakeStatus{st: st}
	var buf bytes.Buffer
	inbox := 60
	p := &Progress{Status: fs.get,
		Live: func(context.Context) ([]FolderLive, error) {
			return []FolderLive{{Name: "invoices", Inbox: inbox}, {Name: "credit-notes"}}, nil
		},
		Rate:   func(f string) float64 { return map[string]float64{"invoices": 50}[f] },
		Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	p.step(context.Background())
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Fatalf("want one line (the idle folder says nothing):\n%s", out)
	}
	for _, want := range []string{"msg=backlog", "folder=invoices", "waiting=100", "in_inbox=60", "in_progress=40", "per_minute=50", "eta=2m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress line lacks %s:\n%s", want, out)
		}
	}

	// Held: no ETA. Then cleared: one line, then silence.
	buf.Reset()
	fs.set(func(st *signagent.Status) { st.Folders[0].Held = "outbox missing" })
	p.step(context.Background())
	if !strings.Contains(buf.String(), "eta=held") {
		t.Errorf("held folder: %s", buf.String())
	}
	buf.Reset()
	inbox = 0
	fs.set(func(st *signagent.Status) {
		st.Folders[0].Held = ""
		st.Folders[0].Counts = map[signagent.State]int{signagent.StatePublished: 600}
	})
	p.step(context.Background())
	p.step(context.Background())
	if out := buf.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, `msg="backlog cleared" folder=invoices`) {
		t.Errorf("after the backlog: %q", out)
	}
}
