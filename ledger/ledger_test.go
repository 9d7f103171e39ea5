package ledger

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

var dump = flag.Bool("dump", false, "keep test ledgers and print their paths")

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	if *dump {
		d, err := os.MkdirTemp("", "ledger-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
		t.Logf("ledger kept in %s", dir)
	}
	path := filepath.Join(dir, "ledger.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestOpenMarksFileAndMigratesOnce(t *testing.T) {
	db, path := openTest(t)
	inst := db.Instance()
	if len(inst) != 8 {
		t.Fatalf("instance id %q", inst)
	}
	db.Close()
	db2, err := Open(path) // reopening applies nothing twice and keeps the instance
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if db2.Instance() != inst {
		t.Errorf("instance changed across reopen: %s -> %s", inst, db2.Instance())
	}
	var appID, version int64
	db2.db.QueryRow("PRAGMA application_id").Scan(&appID)
	db2.db.QueryRow("PRAGMA user_version").Scan(&version)
	var mode string
	db2.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	latest, _ := strconv.Atoi(strings.SplitN(filepath.Base(names[len(names)-1]), "_", 2)[0])
	if appID != applicationID || version != int64(latest) || mode != "wal" {
		t.Errorf("application_id %#x version %d journal %s", appID, version, mode)
	}

	// Another SQLite file is refused, not migrated.
	other := filepath.Join(t.TempDir(), "other.db")
	sdb, _ := sql.Open("sqlite", other)
	sdb.Exec("PRAGMA application_id = 42; CREATE TABLE x(y)")
	sdb.Close()
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "not a signagent ledger") {
		t.Errorf("foreign database: %v", err)
	}
}

func TestDocumentLifecycleAndStatus(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }

	add := func(rel, sha string) *Doc {
		d := &Doc{Folder: "f", Rel: rel, Size: 10, ModTime: now, SHA256: sha}
		if err := db.AddSeen(ctx, d); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.Claim, ClaimDir+"/"+db.Instance()+"-") || !strings.HasSuffix(d.Claim, ".pdf") {
			t.Fatalf("claim path %q", d.Claim)
		}
		return d
	}
	a, b, c := add("a.pdf", "aa"), add("sub/b.pdf", "bb"), add("c.pdf", "cc")
	must(t, db.Apply(ctx, Update{ID: a.ID, State: signagent.StateClaimed}, Update{ID: b.ID, State: signagent.StateClaimed},
		Update{ID: c.ID, State: signagent.StateClaimed}))

	batch := &Batch{Folder: "f", Backend: "local"}
	must(t, db.CreateBatch(ctx, batch, []int64{a.ID, b.ID}))
	if !strings.HasSuffix(batch.Ref, "-1") || batch.Attempts != 1 {
		t.Fatalf("batch %+v", batch)
	}
	must(t, db.Resubmit(ctx, batch))
	if !strings.HasSuffix(batch.Ref, "-2") || batch.Attempts != 2 {
		t.Fatalf("resubmitted batch %+v", batch)
	}
	must(t, db.MarkSubmitted(ctx, batch, `{"id":"op-7"}`))
	docs, err := db.BatchDocs(ctx, batch.ID)
	must(t, err)
	if len(docs) != 2 || docs[0].State != signagent.StateSubmitted || docs[0].FirstTry.IsZero() {
		t.Fatalf("batch docs %+v", docs)
	}

	now = now.Add(time.Minute)
	must(t, db.Apply(ctx, Update{ID: a.ID, BatchID: batch.ID, State: signagent.StateSigned, OutputSHA: "out-a"}))
	must(t, db.Apply(ctx, Update{ID: a.ID, BatchID: batch.ID, State: signagent.StatePublished, Output: "/out/a.pdf"}))
	must(t, db.Apply(ctx, Update{ID: a.ID, BatchID: batch.ID, Cleaned: true}))
	must(t, db.Apply(ctx, Update{ID: b.ID, BatchID: batch.ID, State: signagent.StateFailed, ErrCode: signagent.CodeNotAPDF,
		ErrMessage: "not a PDF", Output: "/err/b.pdf", Attempts: 1}))
	must(t, db.FinishBatch(ctx, batch.ID))
	must(t, db.Hold(ctx, "f", "client service inactive"))

	got, err := db.Get(ctx, a.ID)
	must(t, err)
	if got.State != signagent.StatePublished || got.OutputSHA != "out-a" || got.Output != "/out/a.pdf" || !got.Cleaned {
		t.Fatalf("a: %+v", got)
	}
	// Zero fields leave values alone; the batch link is explicit.
	if got.BatchID != batch.ID || got.SHA256 != "aa" {
		t.Fatalf("a lost fields: %+v", got)
	}

	if dup, err := db.Duplicate(ctx, "f", "aa", 999); err != nil || dup == nil || dup.ID != a.ID {
		t.Errorf("duplicate of published content not found: %v %v", dup, err)
	}
	if dup, _ := db.Duplicate(ctx, "f", "bb", 999); dup != nil {
		t.Errorf("failed document counted as duplicate")
	}

	var unfinished []int64
	must(t, db.Unfinished(ctx, "f", func(d *Doc) error { unfinished = append(unfinished, d.ID); return nil }))
	if len(unfinished) != 2 { // b (failed, error file not yet written) and c (claimed)
		t.Errorf("unfinished %v", unfinished)
	}

	st, err := db.Status(ctx, []string{"f"})
	must(t, err)
	fs := st.Folders[0]
	if fs.Counts[signagent.StatePublished] != 1 || fs.Counts[signagent.StateFailed] != 1 || fs.Counts[signagent.StateClaimed] != 1 {
		t.Errorf("counts %v", fs.Counts)
	}
	if fs.Oldest == nil || fs.Oldest.File != "c.pdf" || fs.Oldest.Age != time.Minute {
		t.Errorf("oldest %+v", fs.Oldest)
	}
	if fs.Held != "client service inactive" || len(fs.Failures) != 1 || fs.Failures[0].Code != signagent.CodeNotAPDF {
		t.Errorf("held %q failures %+v", fs.Held, fs.Failures)
	}
	if st.LedgerBytes == 0 {
		t.Error("ledger size not reported")
	}
	must(t, db.Release(ctx, "f"))

	must(t, db.NoteRequeued(ctx, "f", "/err/b.pdf"))
	gb, _ := db.Get(ctx, b.ID)
	if !strings.HasPrefix(gb.ErrMessage, "requeued by retry") || gb.Output != "" {
		t.Errorf("requeue note: %+v", gb)
	}

	// Retention deletes only finished work older than the cut-off.
	n, err := db.Prune(ctx, now.Add(time.Second))
	must(t, err)
	if n != 1 {
		t.Errorf("pruned %d, want 1 (the cleaned published document)", n)
	}
	if _, err := db.Get(ctx, c.ID); err != nil {
		t.Errorf("pending document pruned: %v", err)
	}
	must(t, db.Ping(ctx))
}

func TestSameContentContinuesAttempts(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	first := &Doc{Folder: "f", Rel: "a.pdf", Size: 1, SHA256: "same"}
	must(t, db.AddSeen(ctx, first))
	must(t, db.Apply(ctx, Update{ID: first.ID, State: signagent.StateFailed, ErrCode: signagent.CodeGaveUp, Attempts: 3}))
	again := &Doc{Folder: "f", Rel: "a.pdf", Size: 1, SHA256: "same"}
	must(t, db.AddSeen(ctx, again))
	other := &Doc{Folder: "g", Rel: "a.pdf", Size: 1, SHA256: "same"}
	must(t, db.AddSeen(ctx, other))
	if again.Attempts != 3 {
		t.Errorf("AddSeen reports %d attempts, want 3", again.Attempts)
	}
	if got, _ := db.Get(ctx, again.ID); got.Attempts != 3 {
		t.Errorf("requeued document starts at %d attempts, want 3", got.Attempts)
	}
	if got, _ := db.Get(ctx, other.ID); got.Attempts != 0 {
		t.Errorf("another folder's document inherits %d attempts", got.Attempts)
	}
}

func TestDeleteOnlyForgetsUnclaimed(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	d := &Doc{Folder: "f", Rel: "x.pdf", Size: 1, SHA256: "x"}
	must(t, db.AddSeen(ctx, d))
	must(t, db.Apply(ctx, Update{ID: d.ID, State: signagent.StateClaimed}))
	must(t, db.Delete(ctx, d.ID))
	if _, err := db.Get(ctx, d.ID); err != nil {
		t.Fatalf("a claimed document was deleted: %v", err)
	}
}

// BenchmarkTransitions measures one document's ledger writes through the
// pipeline (seen, claimed, batched in a batch of 50, signed, published,
// cleaned), the figure behind "never the bottleneck at 1,000 documents/s".
func BenchmarkTransitions(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const batch = 50
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		// Claimed as the agent claims a round of ready files: recorded
		// together, then their claims together.
		docs := make([]*Doc, batch)
		for j := range docs {
			docs[j] = &Doc{Folder: "f", Rel: "a.pdf", Size: 1, SHA256: fmt.Sprintf("s%d-%d", i, j)}
		}
		if err := db.AddSeen(ctx, docs...); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Claim(ctx, "f", docs, nil); err != nil {
			b.Fatal(err)
		}
		ids := make([]int64, 0, batch)
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		bt := &Batch{Folder: "f", Backend: "local"}
		db.CreateBatch(ctx, bt, ids)
		db.MarkSubmitted(ctx, bt, "{}")
		var signed, published, cleaned []Update
		for _, id := range ids {
			signed = append(signed, Update{ID: id, BatchID: bt.ID, State: signagent.StateSigned, OutputSHA: "o"})
			published = append(published, Update{ID: id, BatchID: bt.ID, State: signagent.StatePublished, Output: "p"})
			cleaned = append(cleaned, Update{ID: id, BatchID: bt.ID, Cleaned: true})
		}
		db.Apply(ctx, signed...)
		db.Apply(ctx, published...)
		db.Apply(ctx, cleaned...)
		db.FinishBatch(ctx, bt.ID)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Claim records the claims of a group in order, each with its duplicate
// question, and forgets the documents whose rename never happened.
func TestClaimGroup(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	docs := []*Doc{
		{Folder: "f", Rel: "a.pdf", Size: 1, SHA256: "same"},
		{Folder: "f", Rel: "gone.pdf", Size: 1, SHA256: "gone"},
		{Folder: "f", Rel: "b.pdf", Size: 1, SHA256: "same"},
		{Folder: "g", Rel: "c.pdf", Size: 1, SHA256: "same"}, // another folder: not a duplicate
	}
	if err := db.AddSeen(ctx, docs...); err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if d.ID != int64(i+1) || d.State != signagent.StateSeen || !strings.HasSuffix(d.Claim, "-"+strconv.Itoa(i+1)+".pdf") {
			t.Fatalf("doc %d after AddSeen: id %d state %s claim %q", i, d.ID, d.State, d.Claim)
		}
	}
	dups, err := db.Claim(ctx, "f", []*Doc{docs[0], docs[2]}, []int64{docs[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(dups) != 2 || dups[0] != nil || dups[1] == nil || dups[1].ID != docs[0].ID {
		t.Fatalf("dups = %v, want [nil, doc 1]", dups)
	}
	if dups, err := db.Claim(ctx, "g", []*Doc{docs[3]}, nil); err != nil || dups[0] != nil {
		t.Fatalf("claim in another folder: dups %v, err %v", dups, err)
	}
	for _, d := range []*Doc{docs[0], docs[2], docs[3]} {
		got, err := db.Get(ctx, d.ID)
		if err != nil || got.State != signagent.StateClaimed || d.State != signagent.StateClaimed {
			t.Errorf("%s: %v, %v (in memory %s), want claimed", d.Rel, got, err, d.State)
		}
	}
	if _, err := db.Get(ctx, docs[1].ID); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("forgotten document: %v, want no rows", err)
	}
}
