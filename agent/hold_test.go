package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/ledger"
)

// TestHoldAndReleaseAgree: one batch holding the folder while another's
// success releases it must leave the ledger's record and the folder's
// state saying the same thing, whichever wins (status showed a folder
// "held" while it flowed, and nothing released it).
func TestHoldAndReleaseAgree(t *testing.T) {
	db, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &runner{a: &Agent{Ledger: db}, f: &Folder{Name: "invoices"}, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	cause := signagent.LocalError("the outbox is missing", "", nil)
	for i := range 300 {
		r.hold(ctx, cause) // held before the race, as when a batch failed earlier
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); r.hold(ctx, cause) }()
		go func() { defer wg.Done(); r.release(ctx, signagent.KindLocal) }()
		wg.Wait()
		st, err := db.Status(ctx, []string{"invoices"})
		if err != nil {
			t.Fatal(err)
		}
		if recorded, held := st.Folders[0].Held != "", r.heldBy.Load() != 0; recorded != held {
			t.Fatalf("round %d: the ledger says held=%v, the folder held=%v", i, recorded, held)
		}
	}
}
