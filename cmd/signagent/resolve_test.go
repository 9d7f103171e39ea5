package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/ledger"
)

// TestResolve: resolve records a decision on a batch waiting for one,
// named by number or reference, and refuses anything else with a reason.
func TestResolve(t *testing.T) {
	l := newLayout(t, "")
	db, err := ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := func(unknown bool) *ledger.Batch {
		d := &ledger.Doc{Folder: "invoices", Rel: fmt.Sprintf("inv-%d.pdf", time.Now().UnixNano()), Size: 1, ModTime: time.Now(), SHA256: fmt.Sprint(time.Now().UnixNano())}
		if err := db.AddSeen(ctx, d); err != nil {
			t.Fatal(err)
		}
		b := &ledger.Batch{Folder: "invoices", Backend: "local"}
		if err := db.CreateBatch(ctx, b, []int64{d.ID}); err != nil {
			t.Fatal(err)
		}
		if unknown {
			if err := db.MarkUnknown(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	waiting, open := batch(true), batch(false)
	db.Close()

	for _, args := range [][]string{
		{fmt.Sprint(waiting.ID)},
		{fmt.Sprint(waiting.ID), "--resend", "--fail"},
		{"--fail"},
	} {
		if code, _, stderr := runCmd(t, nil, append([]string{"resolve", "--config", l.cfg}, args...)...); code != exitUsage {
			t.Errorf("resolve %v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
	code, _, stderr := runCmd(t, nil, "resolve", "--config", l.cfg, fmt.Sprint(open.ID), "--resend")
	if code != exitFailure || !strings.Contains(stderr, "does not wait for a decision") || !strings.Contains(stderr, "hint:") {
		t.Errorf("resolve of a batch not waiting: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCmd(t, nil, "resolve", "--config", l.cfg, "no-such-batch", "--resend")
	if code != exitFailure || !strings.Contains(stderr, "no batch") {
		t.Errorf("resolve of an unknown batch: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCmd(t, nil, "resolve", "--config", l.cfg, waiting.Ref, "--fail")
	if code != exitOK || !strings.Contains(stdout, waiting.Ref) || !strings.Contains(stdout, "OUTCOME_UNKNOWN") {
		t.Fatalf("resolve: exit %d\n%s%s", code, stdout, stderr)
	}
	db, err = ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if d, err := db.Decision(ctx, waiting.ID); err != nil || d != ledger.DecisionFail {
		t.Errorf("recorded decision %q, %v; want fail", d, err)
	}
}
