package faultrun

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/internal/minipdf"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
	"github.com/signagent/signagent/watcher"
)

const (
	alias     = "PRT.505767457-PRT.123654123-84dd8c"
	secret    = "faultrun-secret-never-logged"
	documents = 300
	proxyPath = "/signstash/einvoice-integration-client-ws"
)

// The faults of the run: two instances; 15 % of business calls answered
// 500, 10 % 429, 10 % reset after processing; every 40 calls an instance
// restarts and forgets its operations. Tokens live 2 s (20 s in the
// manual run, scaled down with the other delays).
var faults = sim.Faults{FailRate: 0.15, ThrottleRate: 0.1, RetryAfter: sim.Duration(time.Second), ResetRate: 0.1, RestartAfter: 40}

const tokenLifetime = 2 * time.Second

// outcomeUnknownAfter is how long look-ups may fail before a batch is
// recorded as awaiting a decision (1 h by default, scaled down).
const outcomeUnknownAfter = 2 * time.Second

// Batches of 5 documents, 8 in flight: enough calls (60 batches and their
// retries and look-ups) for every instance to restart during the run.
const inFlight = 8

// figures are the outcome of one run.
type figures struct {
	published, failed, awaiting, lost int
	// queued are documents still in the inbox or the claim area, in no
	// batch; unresolved are documents in batches still being sent, looked
	// up or polled. Both must be 0 once the run has settled.
	queued, unresolved int
	// signedAwaiting and signedFailed are awaiting or failed documents the
	// service did sign (its answer never reached the agent).
	signedAwaiting, signedFailed int
	signedTwice                  int // documents the service signed more than once, over all their references
	refSignedTwice               int // references signed more than once
	// unexplained counts the documents signed more often than the
	// operations a restart forgot allow: sent again while the service
	// still knew them.
	unexplained           int
	restarts, resubmitted int
}

func (f figures) String() string {
	return fmt.Sprintf("published %d, failed %d, awaiting a decision %d (signed by the service: %d), lost %d, queued %d, unresolved %d; signed twice %d (after a restart forgot the signed operation: %d; references signed twice %d); failed but signed by the service %d; instance restarts %d, batches resubmitted %d",
		f.published, f.failed, f.awaiting, f.signedAwaiting, f.lost, f.queued, f.unresolved, f.signedTwice, f.signedTwice-f.unexplained, f.refSignedTwice, f.signedFailed, f.restarts, f.resubmitted)
}

// TestFaultRun runs 300 documents through the agent and a faulty
// two-instance emulator, with and without the client's instances list and
// the proxy's look-up calls. In each combination no document may be signed
// twice by the service (unless a restarted instance forgot the operation
// that signed it), none lost, and each must be published, failed into
// error/ with its error file, or visibly awaiting a decision: in a batch
// the ledger records as outcome unknown (ledger.BatchUnknown), listed by
// status for `signagent resolve`.
func TestFaultRun(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault run signs 1,200 documents")
	}
	var mu sync.Mutex
	results := map[string]figures{}
	t.Cleanup(func() {
		names := make([]string, 0, len(results))
		for n := range results {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t.Logf("%-30s %s", n, results[n])
		}
	})
	for _, c := range []struct {
		instances, lookups bool
		proof              string
	}{{true, true, ""}, {false, true, ""}, {true, false, ""}, {false, false, ""}, {true, true, signstash.ProofSaaS}} {
		name := fmt.Sprintf("instances=%v,lookups=%v", c.instances, c.lookups)
		if c.proof != "" {
			name += ",proof_of_absence=" + c.proof
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := run(t, c.instances, c.lookups, c.proof)
			mu.Lock()
			results[name] = f
			mu.Unlock()
			t.Log(f)
			// A document is signed twice only when a restarted instance
			// forgot the operation that signed it, so that the look-up
			// proved it absent: the service lost its record, the agent
			// never resent what the service still knew. The count is
			// reported; anything beyond that is a failure.
			if f.unexplained != 0 || f.refSignedTwice != 0 {
				t.Errorf("signed twice without a forgotten operation: %d documents; references signed twice: %d", f.unexplained, f.refSignedTwice)
			}
			// With proof_of_absence = "saas" no instance's denial leads to
			// a resend: nothing is signed twice, even after restarts.
			if c.proof == signstash.ProofSaaS && f.signedTwice != 0 {
				t.Errorf("proof_of_absence = saas: %d documents signed twice", f.signedTwice)
			}
			if f.lost != 0 {
				t.Errorf("%d documents lost", f.lost)
			}
			// Without the instance list a sync operation a look-up finds
			// through the balancer is polled through it too, and may reach
			// the instance that does not hold it: that batch must end
			// awaiting a decision, not cycle between look-up and poll.
			if f.queued != 0 || f.unresolved != 0 {
				t.Errorf("%d documents neither published, failed nor awaiting a decision (%d not yet in a batch, %d in batches still in progress)", f.queued+f.unresolved, f.queued, f.unresolved)
			}
			if f.published+f.failed+f.awaiting+f.queued+f.unresolved+f.lost != documents {
				t.Errorf("%s: does not add up to %d", f, documents)
			}
		})
	}
}

// minimalPDF is a one-page PDF whose text makes it unique.
func minimalPDF(text string) []byte {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	return minipdf.File(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func run(t *testing.T, withInstances, withLookups bool, proof string) figures {
	dir := t.TempDir()
	inbox, outbox, errDir, archive := filepath.Join(dir, "inbox"), filepath.Join(dir, "outbox"), filepath.Join(dir, "error"), filepath.Join(dir, "archive")
	for _, d := range []string{inbox, outbox, errDir, archive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if strings.Contains(logs.String(), secret) {
			t.Error("the client secret appears in the logs")
		}
		if t.Failed() {
			lines := strings.Split(logs.String(), "\n")
			t.Logf("last log lines:\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	db, err := ledger.Open(filepath.Join(dir, "data", "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	local, err := signer.NewLocal(signer.LocalConfig{Name: "signstash-sim", Certificate: "dev", DataDir: filepath.Join(dir, "signer"), Workers: 1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := sim.StartCluster(sim.Config{
		Clients: map[string]sim.Client{alias: {Secret: secret}},
		Sign: func(ctx context.Context, in, out, name string, typ signing.Type, o signing.Options) error {
			o.Type = typ
			_, err := local.SignFile(ctx, in, out, name, o)
			return err
		},
		Faults: faults, Seed: 7, TokenLifetime: tokenLifetime, NoProxyLookup: !withLookups,
		DataDir: filepath.Join(dir, "sim"), TokenAddr: "127.0.0.1:0", Logger: log.With("side", "sim"),
	}, "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	ccfg := signstash.Config{Name: "multicert", BaseURL: cluster.URL + proxyPath, TokenURL: cluster.TokenURL + "/oauth2/authorization-server/oauth/token",
		ClientID: alias, ClientSecret: secret, PollInterval: 50 * time.Millisecond, Timeout: 10 * time.Second, ProofOfAbsence: proof,
		HTTPClient: &http.Client{Transport: tr}, Logger: log.With("side", "client")}
	if withInstances {
		for _, u := range cluster.InstanceURLs {
			ccfg.Instances = append(ccfg.Instances, u+proxyPath)
		}
	}
	client, err := signstash.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	folder := &agent.Folder{Name: "invoices", Inbox: inbox, Outbox: outbox, Error: errDir, Archive: archive,
		Backend: client, Opts: signing.Options{Type: signing.TypeAuto, Reason: "Invoice", Location: "Lisboa"},
		MaxFiles: 5, MaxWait: 100 * time.Millisecond, InFlight: inFlight,
		Watch: watcher.Config{Include: []string{"*.pdf"}, Settle: 50 * time.Millisecond, ScanInterval: 250 * time.Millisecond, EmptyGrace: 200 * time.Millisecond}}
	a := &agent.Agent{Ledger: db, Folders: []*agent.Folder{folder}, Logger: log.With("side", "agent"), HoldRetry: 200 * time.Millisecond, Grace: 2 * time.Second,
		OutcomeUnknownAfter: outcomeUnknownAfter}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent.Run: %v", err)
		}
	})

	names := map[string][]byte{}
	for i := range documents {
		name := fmt.Sprintf("inv-%03d.pdf", i)
		data := minimalPDF(fmt.Sprintf("invoice %d of the fault run", i))
		names[name] = data
		tmp := filepath.Join(inbox, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(inbox, name)); err != nil {
			t.Fatal(err)
		}
	}

	// Faults stay on until every document has been batched and each
	// instance has restarted at least once (or every document is terminal
	// or awaiting a decision before that). Then they stop, and the run ends
	// once every document has been terminal or awaiting a decision for 3 s
	// (a batch awaiting a decision is still looked up, and may yet end).
	quiet := false
	still := 0
	var last, lastState string
	deadline := time.Now().Add(50 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Errorf("the run did not settle: %s", lastState)
			break
		}
		time.Sleep(200 * time.Millisecond)
		st := snapshot(t, db, cluster)
		// Settled: every document is terminal or awaiting a decision, and
		// the counts stay put for 3 s (a batch awaiting a decision is
		// still looked up, and may yet end). With or without the instance
		// list: a batch still being looked up is not settled, however long
		// the counts have not moved (its look-up backoff grows past 3 s),
		// and one that never settles fails the run at the deadline.
		key := fmt.Sprint(st.terminal, st.stuck)
		settled := st.queued == 0 && st.terminal+st.stuck == documents
		if settled && key == last {
			still++
		} else {
			still = 0
		}
		last = key
		lastState = st.String()
		if !quiet && st.batchedAll && (st.restartsAll || st.terminal+st.stuck == documents) {
			for _, s := range cluster.Instances {
				if err := s.SetFaults(sim.Faults{}); err != nil {
					t.Fatal(err)
				}
			}
			quiet, still = true, 0
			continue
		}
		if quiet && still >= 15 {
			break
		}
	}
	return account(t, db, cluster, names, outbox, errDir, inbox, logs.String())
}

// state is the ledger's and the emulator's view during the run.
type state struct {
	terminal, queued        int
	stuck                   int // documents awaiting a decision
	batchedAll, restartsAll bool
	unresolved              []string // "batch ref: docs"
}

func (s state) String() string {
	return fmt.Sprintf("terminal %d, stuck %d, queued %d, unresolved %v", s.terminal, s.stuck, s.queued, s.unresolved)
}

func snapshot(t *testing.T, db *ledger.DB, c *sim.Cluster) state {
	ctx := context.Background()
	var st state
	st.batchedAll, st.restartsAll = true, true
	for _, s := range c.Instances {
		if s.Stats().Restarts == 0 {
			st.restartsAll = false
		}
	}
	batches := map[int64]*ledger.Batch{}
	bs, err := db.OpenBatches(ctx, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		batches[b.ID] = b
		st.unresolved = append(st.unresolved, fmt.Sprintf("%s(%s)", b.Ref, b.State))
	}
	n := 0
	for id, misses := int64(1), 0; misses < 50; id++ {
		d, err := db.Get(ctx, id)
		if err != nil {
			misses++
			continue
		}
		n++
		switch {
		case d.State.Terminal():
			st.terminal++
		case d.State == signagent.StateSeen || d.State == signagent.StateClaimed:
			st.batchedAll = false
			st.queued++
		default:
			if b := batches[d.BatchID]; b != nil && b.State == ledger.BatchUnknown {
				st.stuck++
			}
		}
	}
	if n < documents {
		st.batchedAll = false
		st.queued += documents - n // still in the inbox, not yet seen
	}
	return st
}

// account counts the outcome of every document.
func account(t *testing.T, db *ledger.DB, c *sim.Cluster, names map[string][]byte, outbox, errDir, inbox, logs string) figures {
	ctx := context.Background()
	var f figures
	byName := map[string]*ledger.Doc{}
	for id, misses := int64(1), 0; misses < 50; id++ {
		d, err := db.Get(ctx, id)
		if err != nil {
			misses++
			continue
		}
		byName[d.Rel] = d
	}
	open := map[int64]string{} // batch id -> state, for batches not done
	bs, err := db.OpenBatches(ctx, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		open[b.ID] = b.State
	}
	for _, e := range mustList(t, outbox) {
		if _, ok := names[e]; !ok {
			t.Errorf("unexpected output %s", e)
		}
	}
	for name, orig := range names {
		out, inErr := filepath.Join(outbox, name), filepath.Join(errDir, name)
		d := byName[name]
		switch {
		case exists(out) && exists(inErr):
			t.Errorf("%s is both published and in error/", name)
			f.lost++
		case exists(out):
			if b, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(b, orig) || len(b) <= len(orig) {
				t.Errorf("%s: the output is not a signed update of the original", name)
			}
			f.published++
		case exists(inErr) && exists(inErr+".error.json"):
			f.failed++
		case d != nil && !d.State.Terminal() && d.State != signagent.StateClaimed && d.State != signagent.StateSeen && open[d.BatchID] == ledger.BatchUnknown:
			f.awaiting++
		case d != nil && !d.State.Terminal() && d.State != signagent.StateClaimed && d.State != signagent.StateSeen && open[d.BatchID] != "":
			f.unresolved++
		case (d == nil || d.State == signagent.StateSeen || d.State == signagent.StateClaimed) && (exists(filepath.Join(inbox, name)) || (d != nil && d.Claim != "" && exists(filepath.Join(inbox, filepath.FromSlash(d.Claim))))):
			f.queued++
		default:
			state := "not in the ledger"
			if d != nil {
				state = string(d.State)
			}
			t.Errorf("%s lost (ledger: %s)", name, state)
			f.lost++
		}
	}
	// Signatures per document, over every reference it was sent under
	// ("<batch ref>-d<document id>").
	perDoc, forgotten := map[int64]int{}, map[int64]int{}
	docID := func(ref string) int64 {
		i := strings.LastIndex(ref, "-d")
		id, err := strconv.ParseInt(ref[i+2:], 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("unexpected document reference %q", ref)
		}
		return id
	}
	for _, s := range c.Instances {
		st := s.Stats()
		f.restarts += st.Restarts
		for ref, n := range st.Forgotten {
			forgotten[docID(ref)] += n
		}
		for ref, n := range st.Signed {
			if n > 1 {
				f.refSignedTwice++
			}
			i := strings.LastIndex(ref, "-d")
			id, err := strconv.ParseInt(ref[i+2:], 10, 64)
			if i < 0 || err != nil {
				t.Fatalf("unexpected document reference %q", ref)
			}
			perDoc[id] += n
		}
	}
	ids := map[string]int64{}
	for name, d := range byName {
		ids[name] = d.ID
	}
	for name := range names {
		d := byName[name]
		if d == nil || perDoc[ids[name]] == 0 || exists(filepath.Join(outbox, name)) {
			continue
		}
		if exists(filepath.Join(errDir, name)) {
			f.signedFailed++
		} else if open[d.BatchID] == ledger.BatchUnknown {
			f.signedAwaiting++
		}
	}
	for id, n := range perDoc {
		if n > 1 {
			f.signedTwice++
			if n-1 > forgotten[id] {
				f.unexplained++
			}
		}
	}
	f.resubmitted = strings.Count(logs, "resubmitting")
	return f
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func mustList(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}
