package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// These tests run the agent against the Sign'Stash emulator over real HTTP
// on 127.0.0.1: the signstash client is the folder's backend, the emulator
// signs with the local signer, so outputs carry real signatures.

const (
	simAlias  = "PRT.505767457-PRT.123654123-84dd8c"
	simSecret = "agent-test-secret-never-logged"
)

// simsClosing counts the emulators still closing after their test.
var simsClosing sync.WaitGroup

// simEnv is an agent (env) whose folder signs through a signstash client
// pointed at an emulator cluster.
type simEnv struct {
	*env
	cluster *sim.Cluster
	client  *signstash.Client
	wire    *wireLog
	clock   *simClock
}

// simClock is the emulator's clock: real time plus an offset the test can
// move forward (to expire access tokens without waiting).
type simClock struct{ offset atomic.Int64 }

func (c *simClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *simClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// clientClock is the real clock moved as the emulator's: a client on it
// judges its token's expiry in the service's time.
type clientClock struct {
	clockwork.Clock
	c *simClock
}

func (c clientClock) Now() time.Time { return c.c.now() }

// wireLog counts what the client saw on the wire: answers by HTTP status,
// requests by kind, and calls that got no answer at all (resets).
type wireLog struct {
	base http.RoundTripper
	// inject, when set, may answer a request instead of the emulator.
	inject func(*http.Request) *http.Response

	mu       sync.Mutex
	statuses map[int]int
	tokens   int
	sends    int // sign and register calls
	noAnswer int
}

func (w *wireLog) RoundTrip(r *http.Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	if w.inject != nil {
		resp = w.inject(r)
	}
	if resp == nil {
		resp, err = w.base.RoundTrip(r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/oauth/token") {
		w.tokens++
	}
	if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/document/sign") {
		w.sends++
	}
	if err != nil {
		w.noAnswer++
		return nil, err
	}
	w.statuses[resp.StatusCode]++
	return resp, nil
}

func (w *wireLog) status(code int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statuses[code]
}

func (w *wireLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("statuses %v, token requests %d, sends %d, unanswered %d", w.statuses, w.tokens, w.sends, w.noAnswer)
}

// simOpts configure newSimEnv.
type simOpts struct {
	instances int
	// unlisted leaves instances out of the client's configuration (one
	// proxy behind its own address), so a "not found" proves nothing.
	unlisted  bool
	faults    sim.Faults
	seed      uint64
	client    func(*signstash.Config)
	folder    func(*agent.Folder)
	tokenLife time.Duration
	// secret replaces simSecret as the client secret.
	secret string
	// gate, when set, holds every signature at the emulator until closed.
	gate chan struct{}
	// jump runs the agent on a jumpClock: its waits take no wall time.
	jump bool
	// serviceTime makes the client judge its token in the emulator's time
	// (clientClock), so moving that clock expires the token for both.
	serviceTime bool
}

func newSimEnv(t *testing.T, o simOpts) *simEnv {
	t.Helper()
	if o.instances == 0 {
		o.instances = 1
	}
	if o.secret == "" {
		o.secret = simSecret
	}
	e := &simEnv{env: newEnv(t, func(f *agent.Folder) {
		f.MaxFiles, f.MaxWait = 4, 150*time.Millisecond
		f.Watch.Include = []string{"*.pdf", "*.xml"}
		if o.folder != nil {
			o.folder(f)
		}
	}), clock: &simClock{}}
	if o.jump {
		e.jumpTime()
	}
	local := e.local
	cfg := sim.Config{
		Clients: map[string]sim.Client{simAlias: {Secret: o.secret}},
		Sign: func(ctx context.Context, in, out, name string, t signing.Type, so signing.Options) error {
			if o.gate != nil {
				select {
				case <-o.gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			so.Type = t
			_, err := local.SignFile(ctx, in, out, name, so)
			return err
		},
		Faults:        o.faults,
		Seed:          o.seed,
		TokenLifetime: o.tokenLife,
		Now:           e.clock.now,
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("side", "sim"),
	}
	c, err := sim.StartCluster(cfg, "127.0.0.1:0", o.instances)
	if err != nil {
		t.Fatal(err)
	}
	e.cluster = c

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	// Registered after newEnv's cleanup, so it runs first: the agent stops
	// and its client closes its connections before the emulator closes.
	// A connection left open (even one dialled and never used) would make
	// the emulator's shutdown wait for it, up to 5 s. The emulator closes
	// in the background: after an error answered before a request's body
	// was read, the HTTP server holds that connection 0.5 s before it
	// closes it, and nothing here needs to wait for that. Its files are in
	// its own temporary directory, which Close removes; TestMain waits.
	t.Cleanup(func() {
		e.stop()
		tr.CloseIdleConnections()
		simsClosing.Go(func() { c.Close() })
	})
	e.wire = &wireLog{base: tr, statuses: map[int]int{}}
	ccfg := signstash.Config{
		Name:         "multicert",
		BaseURL:      c.URL + "/signstash/einvoice-integration-client-ws",
		TokenURL:     c.URL + "/oauth2/authorization-server/oauth/token",
		ClientID:     simAlias,
		ClientSecret: o.secret,
		Mode:         signstash.ModeSync,
		PollInterval: 50 * time.Millisecond,
		HTTPClient:   &http.Client{Transport: e.wire},
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	// Every instance is listed (a single proxy lists itself), so a "not
	// found" proves absence; without the list an outcome stays unknown.
	for _, u := range c.InstanceURLs {
		if o.unlisted {
			break
		}
		ccfg.Instances = append(ccfg.Instances, u+"/signstash/einvoice-integration-client-ws") // base URLs, as documented
	}
	if o.serviceTime {
		ccfg.Clock = clientClock{clockwork.NewRealClock(), e.clock}
	}
	if o.client != nil {
		o.client(&ccfg)
	}
	if e.client, err = signstash.New(ccfg); err != nil {
		t.Fatal(err)
	}
	e.folder.Backend = e.client
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("wire: %s", e.wire)
		}
		if strings.Contains(e.logs.String(), o.secret) {
			t.Error("the client secret appears in the logs")
		}
	})
	return e
}

// uniquePDFs returns n distinct PDFs made from corpus PDFs (a comment after
// the end marker makes each copy unique, so none is a DUPLICATE).
func uniquePDFs(t *testing.T, n int) map[string][]byte {
	t.Helper()
	srcs := smallCorpusPDFs(t, 8)
	out := map[string][]byte{}
	for i := range n {
		data, err := os.ReadFile(srcs[i%len(srcs)])
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("inv-%03d.pdf", i)] = append(data, fmt.Sprintf("\n%% copy %d\n", i)...)
	}
	return out
}

// smallCorpusPDFs returns up to n distinct corpus PDFs under 200 KB.
func smallCorpusPDFs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	seen := map[[32]byte]bool{}
	for _, p := range corpusFiles(t, ".pdf") {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 200_000 || seen[sha256.Sum256(b)] {
			continue
		}
		seen[sha256.Sum256(b)] = true
		out = append(out, p)
		if len(out) == n {
			break
		}
	}
	if len(out) == 0 {
		t.Skip("no small PDF in the corpus")
	}
	return out
}

// settled waits until every dropped name is either in the outbox or in
// error/ with its error file, then checks that nothing is left in flight.
func (e *simEnv) settled(names map[string][]byte) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf("%d documents published or failed", len(names)), func() bool {
		n := 0
		for name := range names {
			if exists(filepath.Join(e.outbox, name)) || exists(filepath.Join(e.errDir, name+".error.json")) {
				n++
			}
		}
		return n == len(names)
	})
	e.waitFor("claim area empty", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.inbox, ledger.ClaimDir))
		return len(ents) == 0
	})
	// Originals are archived just before their publication is recorded.
	e.waitFor("ledger settled", func() bool {
		st, err := e.a.Status(context.Background())
		if err != nil {
			return false
		}
		for state, n := range st.Folders[0].Counts {
			if !state.Terminal() && n > 0 {
				return false
			}
		}
		return true
	})
}

// settledOrWaiting waits until every document is published, failed, or
// in a batch waiting for an operator's decision, and returns the names of
// those waiting.
func (e *simEnv) settledOrWaiting(names map[string][]byte) map[string]bool {
	e.t.Helper()
	ctx := context.Background()
	var waiting map[string]bool
	e.waitFor(fmt.Sprintf("%d documents published, failed or waiting for a decision", len(names)), func() bool {
		st, err := e.a.Status(ctx)
		if err != nil {
			return false
		}
		unknown := map[int64]bool{}
		for _, ub := range st.Folders[0].OutcomeUnknown {
			unknown[ub.ID] = true
		}
		ids := e.docIDs()
		waiting = map[string]bool{}
		for name := range names {
			if exists(filepath.Join(e.outbox, name)) || exists(filepath.Join(e.errDir, name+".error.json")) {
				continue
			}
			d, err := e.db.Get(ctx, ids[name])
			if err != nil || !unknown[d.BatchID] || d.State.Terminal() {
				return false
			}
			waiting[name] = true
		}
		return true
	})
	return waiting
}

// accounted checks every document ended exactly once: one signed output in
// the outbox or the original plus its error file in error/, never both,
// nothing left over. It returns the names published and failed.
func (e *simEnv) accounted(names map[string][]byte) (published, failed []string) {
	e.t.Helper()
	for _, f := range files(e.outbox) {
		if _, ok := names[f]; !ok {
			e.t.Errorf("unexpected output %s (published twice?)", f)
		}
	}
	for name, orig := range names {
		out, inErr := filepath.Join(e.outbox, name), filepath.Join(e.errDir, name)
		switch {
		case exists(out) && exists(inErr):
			e.t.Errorf("%s is both in the outbox and in error/", name)
		case exists(out):
			signed, err := os.ReadFile(out)
			if strings.HasSuffix(name, ".xml") {
				if err != nil || !bytes.Contains(signed, []byte("SignatureValue")) {
					e.t.Errorf("%s: the output carries no XML signature: %v", name, err)
				}
			} else if err != nil || !bytes.HasPrefix(signed, orig) || len(signed) <= len(orig) {
				e.t.Errorf("%s: the output is not an incremental update of the original: %v", name, err)
			}
			published = append(published, name)
		case exists(inErr + ".error.json"):
			if b, err := os.ReadFile(inErr); err != nil || !bytes.Equal(b, orig) {
				e.t.Errorf("%s: original not kept byte for byte in error/: %v", name, err)
			}
			failed = append(failed, name)
		default:
			e.t.Errorf("%s lost: neither published nor failed", name)
		}
	}
	if left := files(e.inbox); len(left) > 0 {
		e.t.Errorf("inbox not empty: %v", left)
	}
	return published, failed
}

// signedByDoc sums the emulator's signature counts per agent document (the
// document reference is "<batch ref>-d<doc id>"; a resubmitted batch signs
// the same document under a new batch reference).
func (e *simEnv) signedByDoc() map[int64]int {
	out := map[int64]int{}
	for _, s := range e.cluster.Instances {
		for ref, n := range s.Stats().Signed {
			i := strings.LastIndex(ref, "-d")
			id, err := strconv.ParseInt(ref[i+2:], 10, 64)
			if i < 0 || err != nil {
				e.t.Fatalf("unexpected document reference %q", ref)
			}
			out[id] += n
		}
	}
	return out
}

// docIDs maps file names of the folder to their ledger document ids.
func (e *simEnv) docIDs() map[string]int64 {
	out := map[string]int64{}
	for id, misses := int64(1), 0; misses < 100; id++ {
		d, err := e.db.Get(context.Background(), id)
		if err != nil {
			misses++ // ids of documents forgotten before their claim
			continue
		}
		out[d.Rel] = id
	}
	return out
}

// onceEach checks each published document was signed exactly once by the
// service and each failed one never; with lost set (operations forgotten by
// a restarted instance), published documents may have been signed again
// before delivery, but at least once.
func (e *simEnv) onceEach(published, failed []string, lost bool) {
	e.t.Helper()
	ids, signed := e.docIDs(), e.signedByDoc()
	for _, name := range published {
		id, ok := ids[name]
		if !ok {
			e.t.Errorf("%s: not in the ledger", name)
			continue
		}
		if n := signed[id]; n < 1 || (!lost && n != 1) {
			e.t.Errorf("%s (doc %d) signed %d times by the service", name, id, n)
		}
	}
	for _, name := range failed {
		if n := signed[ids[name]]; n != 0 {
			e.t.Errorf("%s failed, yet the service signed it %d times", name, n)
		}
	}
}

func (e *simEnv) dropAll(docs map[string][]byte) {
	for name, data := range docs {
		e.drop(name, data)
	}
}

// TestSignStashSyncCorpus signs corpus PDFs synchronously through the
// emulator: every one is published, verifies, and was signed once.
func TestSignStashSyncCorpus(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{})
	docs := map[string][]byte{}
	seen := map[[32]byte]bool{}
	pdfs := corpusFiles(t, ".pdf")
	if testing.Short() {
		pdfs = pdfs[:8]
	}
	for _, p := range pdfs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if seen[sha256.Sum256(data)] {
			continue
		}
		seen[sha256.Sum256(data)] = true
		name := filepath.Base(p)
		if _, dup := docs[name]; dup {
			name = strings.TrimSuffix(name, ".pdf") + "-" + filepath.Base(filepath.Dir(p)) + ".pdf"
		}
		docs[name] = data
	}
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 {
		for _, f := range failed {
			ef := e.errorFile(f)
			t.Errorf("%s failed: %s %s", f, ef.Code, ef.Message)
		}
	}
	e.onceEach(published, nil, false)
	checked := 0
	for _, name := range published {
		p := filepath.Join(e.outbox, name)
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%s: own verification failed: %v %+v", name, err, vs)
		}
		if have("pdfsig") && checked < 4 {
			checked++
			if out := pdfsig(t, p); !strings.Contains(out, "Signature is Valid.") {
				t.Errorf("%s: pdfsig does not accept it:\n%s", name, out)
			}
		}
	}
	if !have("pdfsig") {
		t.Log("pdfsig not installed (apt-get install poppler-utils): outputs checked by the Go verifier only")
	}
	if n := e.wire.status(http.StatusAccepted); n != 0 {
		t.Errorf("sync mode made %d asynchronous registrations", n)
	}
	st, err := e.a.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Folders[0].Counts[signagent.StatePublished]; got != len(docs) {
		t.Errorf("ledger: %d published, want %d", got, len(docs))
	}
}

// TestSignStashSecretWithReservedCharacters: a client secret chosen in the
// back-office with + / @ % : and spaces gets a token (sent raw, as
// documented) and every document is signed once.
func TestSignStashSecretWithReservedCharacters(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{secret: "Pa ss+w/o@r%d:2026 x"})
	docs := uniquePDFs(t, 4)
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 {
		t.Fatalf("failed: %v", failed)
	}
	e.onceEach(published, nil, false)
}

// TestSignStashAsyncCluster signs through three proxy instances behind a
// round-robin balancer: each batch is polled and fetched at the instance
// that accepted it, and every document is signed and published once.
func TestSignStashAsyncCluster(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{instances: 3, client: func(c *signstash.Config) { c.Mode = signstash.ModeAsync }})
	docs := uniquePDFs(t, 16)
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 {
		t.Errorf("failed: %v", failed)
	}
	e.onceEach(published, nil, false)
	// Affinity: a poll at the wrong instance gets 404 and would end in a
	// resubmission; there was none, and the work was spread.
	if n := e.wire.status(http.StatusNotFound); n != 0 {
		t.Errorf("%d calls answered 404: a batch was followed at the wrong instance", n)
	}
	if strings.Contains(e.logs.String(), "resubmitting") {
		t.Error("a batch was resubmitted")
	}
	used := 0
	for i, s := range e.cluster.Instances {
		if n := len(s.Stats().Signed); n > 0 {
			used++
			t.Logf("instance %d signed %d documents", i+1, n)
		}
	}
	if used < 2 {
		t.Errorf("the batches went to %d instance(s); the balancer should spread them", used)
	}
	if e.wire.status(http.StatusAccepted) < 4 {
		t.Errorf("expected at least 4 asynchronous registrations (16 documents, max_files 4): %s", e.wire)
	}
}

// TestSignStashFaultsSurvived runs the agent through each fault of the
// emulator: every document ends exactly once in the outbox or in error/,
// and the fault is shown to have fired.
func TestSignStashFaultsSurvived(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		mode      string
		faults    sim.Faults
		lost      bool // operations may be forgotten: re-signing before delivery is allowed
		fired     func(e *simEnv) bool
		instances int
		// realTime keeps the agent on the real clock: a restart every few
		// calls needs polls spaced as in service, or immediate polls
		// restart the instance under every batch.
		realTime bool
	}{
		{"5xx/async", signstash.ModeAsync, sim.Faults{FailRate: 0.3}, false,
			func(e *simEnv) bool { return e.wire.status(500) > 0 }, 0, false},
		{"5xx/sync", signstash.ModeSync, sim.Faults{FailRate: 0.3}, false,
			func(e *simEnv) bool { return e.wire.status(500) > 0 }, 0, false},
		{"429/async", signstash.ModeAsync, sim.Faults{ThrottleRate: 0.15, RetryAfter: sim.Duration(time.Second)}, false,
			func(e *simEnv) bool { return e.wire.status(429) > 0 }, 0, false},
		{"reset/async", signstash.ModeAsync, sim.Faults{ResetRate: 0.3}, false,
			func(e *simEnv) bool { e.wire.mu.Lock(); defer e.wire.mu.Unlock(); return e.wire.noAnswer > 0 }, 0, false},
		// The register call is processed, then its connection reset: the
		// look-up must find the operation at whichever instance took it.
		{"reset/async/3-instances", signstash.ModeAsync, sim.Faults{ResetRate: 0.3}, false,
			func(e *simEnv) bool { e.wire.mu.Lock(); defer e.wire.mu.Unlock(); return e.wire.noAnswer > 0 }, 3, false},
		{"reset/sync", signstash.ModeSync, sim.Faults{ResetRate: 0.3}, false,
			func(e *simEnv) bool { e.wire.mu.Lock(); defer e.wire.mu.Unlock(); return e.wire.noAnswer > 0 }, 0, false},
		{"latency/async", signstash.ModeAsync, sim.Faults{Latency: sim.Duration(150 * time.Millisecond)}, false,
			func(e *simEnv) bool { return true }, 0, false},
		// Every 5 calls: a batch takes at least 3 (register, status,
		// result), so a restart lands on one in flight whatever the timing.
		{"restart-after/async", signstash.ModeAsync, sim.Faults{RestartAfter: 5}, true,
			func(e *simEnv) bool { return e.cluster.Instances[0].Stats().Restarts > 0 && e.wire.status(404) > 0 }, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newSimEnv(t, simOpts{instances: c.instances, faults: c.faults, seed: 11, jump: !c.realTime, client: func(cf *signstash.Config) { cf.Mode = c.mode },
				folder: func(f *agent.Folder) { f.MaxFiles = 3 }})
			docs := uniquePDFs(t, 12)
			e.start()
			e.dropAll(docs)
			ended := docs
			if c.lost {
				// A batch the service took and lost agent.MaxLost times
				// waits for an operator's decision instead of being sent
				// again.
				waiting := e.settledOrWaiting(docs)
				ended = map[string][]byte{}
				for name, data := range docs {
					if !waiting[name] {
						ended[name] = data
					}
				}
				t.Logf("%d of %d documents wait for a decision", len(waiting), len(docs))
			} else {
				e.settled(docs)
			}
			published, failed := e.accounted(ended)
			for _, f := range failed {
				ef := e.errorFile(f)
				t.Errorf("%s failed: %s %s", f, ef.Code, ef.Message)
			}
			e.onceEach(published, failed, c.lost)
			if c.lost {
				for id, n := range e.signedByDoc() {
					if n > agent.MaxLost {
						t.Errorf("doc %d signed %d times by the service; at most %d sends of a lost batch, then an operator decides", id, n, agent.MaxLost)
					}
				}
			}
			t.Logf("wire: %s; signatures per document %v", e.wire, e.signedByDoc())
			if !c.fired(e) {
				t.Errorf("the fault never fired: nothing was tested (%s)", e.wire)
			}
			if strings.HasPrefix(c.name, "restart-after/") && !strings.Contains(e.logs.String(), "resubmitting") {
				t.Error("no batch was resubmitted after its operation was forgotten")
			}
		})
	}
}

// TestSignStashBalancerWithoutInstances: two proxy instances behind a
// balancer, none listed in instances, every register call processed and
// then reset (the balancer answers 502). A look-up through the balancer
// reaches either instance; "not found" from the wrong one must not lead to
// a resend. Every document is signed by the service exactly once and
// published.
//
// One batch is in flight at a time, so the balancer, round robin, sees
// only that batch's calls: its first look-up always reaches the instance
// that did not take it, the next one the instance that did. Nothing depends
// on timing, so the agent runs on a jumpClock, in parallel with the others.
func TestSignStashBalancerWithoutInstances(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{instances: 2, faults: sim.Faults{ResetRate: 1, ResetSendsOnly: true}, jump: true,
		client: func(cf *signstash.Config) { cf.Mode = signstash.ModeAsync; cf.Instances = nil },
		folder: func(f *agent.Folder) { f.MaxFiles, f.InFlight = 3, 1 }})
	docs := uniquePDFs(t, 12)
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failed := e.accounted(docs)
	for _, f := range failed {
		ef := e.errorFile(f)
		t.Errorf("%s failed: %s %s", f, ef.Code, ef.Message)
	}
	e.onceEach(published, failed, false)
	if strings.Contains(e.logs.String(), "resubmitting") {
		t.Error("a batch was resubmitted on an arbitrary instance's 'not found'")
	}
	e.wire.mu.Lock()
	sends := e.wire.sends
	e.wire.mu.Unlock()
	batches := strings.Count(e.logs.String(), "msg=batched ")
	// Behind the balancer a reset register comes back as 502.
	if n := e.wire.status(http.StatusBadGateway); sends != batches || n != sends {
		t.Errorf("%d batches, %d sends, %d answered 502: want each batch sent once and every send reset (%s)", batches, sends, n, e.wire)
	}
	if n := e.wire.status(http.StatusNotFound); n < batches {
		t.Errorf("%d look-ups answered 'not found' for %d batches: the wrong instance's answer was not tested (%s)", n, batches, e.wire)
	}
}

// TestSignStashDocumentErrors fails single documents at the service
// (ERROR_SIGNING) and whole requests (a 2.x signature error): the rejected
// documents go to error/ with the service's code and message, the rest is
// published, nothing is retried for ever.
func TestSignStashDocumentErrors(t *testing.T) {
	t.Parallel()
	t.Run("ERROR_SIGNING", func(t *testing.T) {
		for _, mode := range []string{signstash.ModeSync, signstash.ModeAsync} {
			t.Run(mode, func(t *testing.T) {
				e := newSimEnv(t, simOpts{faults: sim.Faults{DocErrorRate: 0.4}, seed: 5, jump: true,
					client: func(cf *signstash.Config) { cf.Mode = mode }})
				docs := uniquePDFs(t, 10)
				e.start()
				e.dropAll(docs)
				e.settled(docs)
				published, failed := e.accounted(docs)
				if len(failed) == 0 || len(published) == 0 {
					t.Fatalf("%d published, %d failed: the fault should hit some documents, not all", len(published), len(failed))
				}
				for _, f := range failed {
					ef := e.errorFile(f)
					if ef.Code != signagent.CodeSigningError || !strings.Contains(ef.Message, "ERROR_SIGNING") ||
						!strings.Contains(ef.Message, "INVALID_CERTIFICATE_SIGN_ERROR") {
						t.Errorf("%s: error file %+v, want SIGNING_ERROR with the service's status and signError", f, ef)
					}
					if ef.Backend != "multicert" || ef.Batch == "" || ef.Hint == "" || ef.SHA256 == "" || ef.Attempts < 1 {
						t.Errorf("%s: incomplete error file %+v", f, ef)
					}
				}
				e.onceEach(published, failed, false)
			})
		}
	})
	t.Run("2.2.1", func(t *testing.T) {
		e := newSimEnv(t, simOpts{faults: sim.Faults{ErrorCode: "2.2.1"}, jump: true})
		docs := uniquePDFs(t, 3)
		e.start()
		e.dropAll(docs)
		e.settled(docs)
		published, failed := e.accounted(docs)
		if len(published) != 0 || len(failed) != len(docs) {
			t.Fatalf("%d published, %d failed; want every document failed", len(published), len(failed))
		}
		for _, f := range failed {
			ef := e.errorFile(f)
			if ef.Code != signagent.CodeRemoteRejected || !strings.Contains(ef.Message, "2.2.1") ||
				!strings.Contains(ef.Message, "Visible elements not present") {
				t.Errorf("%s: error file %+v, want REMOTE_REJECTED with the service's code and description", f, ef)
			}
		}
	})
}

// TestSignStashTokenExpiry expires the cached access token (the service's
// clock jumps past its lifetime) between batches, answered both ways the
// service does (401 invalid_token, 409 / 0.0.10): the client fetches a new
// token and the agent does not notice.
func TestSignStashTokenExpiry(t *testing.T) {
	t.Parallel()
	for _, as409 := range []bool{false, true} {
		t.Run(fmt.Sprintf("409=%v", as409), func(t *testing.T) {
			e := newSimEnv(t, simOpts{tokenLife: time.Hour, faults: sim.Faults{ExpiredTokenAs409: as409}, jump: true,
				client: func(cf *signstash.Config) { cf.Mode = signstash.ModeAsync }})
			all := uniquePDFs(t, 6)
			first, second := halves(all)
			e.start()
			e.dropAll(first)
			e.settled(first)
			e.clock.advance(2 * time.Hour)
			e.dropAll(second)
			e.settled(second)
			published, failed := e.accounted(all)
			if len(failed) > 0 {
				t.Errorf("failed: %v", failed)
			}
			e.onceEach(published, nil, false)
			rejected := e.wire.status(http.StatusUnauthorized)
			if as409 {
				rejected = e.wire.status(http.StatusConflict)
			}
			e.wire.mu.Lock()
			tokens := e.wire.tokens
			e.wire.mu.Unlock()
			if rejected == 0 || tokens < 2 {
				t.Errorf("the expired token was never rejected and renewed: %s", e.wire)
			}
		})
	}
}

// TestSignStashShortTokenLifetime gives access tokens a one-second life:
// the client renews the token before it expires, between batches.
func TestSignStashShortTokenLifetime(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{tokenLife: time.Second, serviceTime: true, client: func(cf *signstash.Config) { cf.Mode = signstash.ModeAsync }})
	all := uniquePDFs(t, 4)
	first, second := halves(all)
	e.start()
	e.dropAll(first)
	e.settled(first)
	e.clock.advance(1100 * time.Millisecond) // the first token is now expired
	e.dropAll(second)
	e.settled(second)
	published, failed := e.accounted(all)
	if len(failed) > 0 {
		t.Errorf("failed: %v", failed)
	}
	e.onceEach(published, nil, false)
	e.wire.mu.Lock()
	tokens := e.wire.tokens
	e.wire.mu.Unlock()
	if tokens < 2 {
		t.Errorf("the token was never renewed: %s", e.wire)
	}
}

// TestSignStashHeldFolder makes the client service inactive: the agent holds
// the folder (status shows why), documents wait in the claim area and none
// goes to error/; once active again the hold is released and everything is
// published.
//
// On the real clock: on a jumpClock both batches retry without pause, and
// a hold recorded by one batch while the other's success releases the
// folder can be left in the ledger (status then says "held" while the
// folder flows), which fails the last wait.
func TestSignStashHeldFolder(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"client-status", "error-code"} {
		t.Run(how, func(t *testing.T) {
			e := newSimEnv(t, simOpts{client: func(cf *signstash.Config) { cf.Mode = signstash.ModeAsync }})
			srv := e.cluster.Instances[0]
			if how == "client-status" {
				must(t, srv.SetClientStatus(simAlias, sim.StatusInactive))
			} else {
				must(t, srv.SetFaults(sim.Faults{ErrorCode: "1.1.1"}))
			}
			docs := uniquePDFs(t, 6)
			e.start()
			e.dropAll(docs)
			ctx := context.Background()
			var held string
			e.waitFor("folder held", func() bool {
				st, err := e.a.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				held = st.Folders[0].Held
				return held != ""
			})
			if !strings.Contains(held, "1.1.1") || !strings.Contains(held, "inactive") {
				t.Errorf("held reason %q does not name the service's code and the cause", held)
			}
			// Every document claimed, waiting; a few more hold retries pass.
			e.waitFor("documents claimed", func() bool { return len(files(e.inbox)) == 0 })
			wire0 := e.wire.status(http.StatusUnauthorized)
			e.waitFor("hold retried", func() bool { return e.wire.status(http.StatusUnauthorized) >= wire0+3 })
			if got := files(e.errDir); len(got) != 0 {
				t.Fatalf("documents bounced to error/ while held: %v", got)
			}
			if got := files(e.outbox); len(got) != 0 {
				t.Fatalf("published while held: %v", got)
			}
			ents, _ := os.ReadDir(filepath.Join(e.inbox, ledger.ClaimDir))
			if len(ents) < len(docs) {
				t.Errorf("claim area holds %d entries, want the %d documents", len(ents), len(docs))
			}
			st, err := e.a.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Folders[0].Counts[signagent.StateFailed]; n != 0 {
				t.Errorf("%d documents failed while held", n)
			}

			if how == "client-status" {
				must(t, srv.SetClientStatus(simAlias, sim.StatusActive))
			} else {
				must(t, srv.SetFaults(sim.Faults{}))
			}
			e.settled(docs)
			published, failed := e.accounted(docs)
			if len(failed) > 0 || len(published) != len(docs) {
				t.Errorf("%d published, failed %v", len(published), failed)
			}
			e.onceEach(published, nil, false)
			e.waitFor("hold released", func() bool {
				st, err := e.a.Status(ctx)
				return err == nil && st.Folders[0].Held == ""
			})
		})
	}
}

// TestSignStashPollFailureDoesNotResend fails the first fetch of every
// async result (a 503 from the path between agent and proxy): the agent must
// poll the same operation again at its instance, not send the batch again
// through the balancer, where another instance would sign it a second time.
func TestSignStashPollFailureDoesNotResend(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{instances: 3, jump: true, client: func(c *signstash.Config) { c.Mode = signstash.ModeAsync }})
	var mu sync.Mutex
	failed := map[string]bool{}
	e.wire.inject = func(r *http.Request) *http.Response {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/async/operation/") || strings.Contains(r.URL.Path, "/status/") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if failed[r.URL.Path] {
			return nil
		}
		failed[r.URL.Path] = true
		body := `{"errorCode":"0.0.1","errorCodeDescription":"Unhandled error.","causeMessage":"injected between agent and proxy"}`
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}
	}
	docs := uniquePDFs(t, 12)
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failedDocs := e.accounted(docs)
	if len(failedDocs) > 0 {
		t.Errorf("failed: %v", failedDocs)
	}
	e.onceEach(published, nil, false)
	mu.Lock()
	batches := len(failed)
	mu.Unlock()
	e.wire.mu.Lock()
	sends := e.wire.sends
	e.wire.mu.Unlock()
	if batches < 3 || e.wire.status(http.StatusServiceUnavailable) != batches {
		t.Fatalf("the fault did not fire once per batch: %d batches, %s", batches, e.wire)
	}
	if sends != batches {
		t.Errorf("%d batches were sent %d times: a failed poll led to sending the batch again", batches, sends)
	}
}

// TestSignStashCertificateNotProvisioned has the service refuse every
// document with INVALID_CERT_SERVICE_CREDS (the client service's signing
// certificate is not provisioned or its access expired): an account
// problem, so the folder is held and no document bounces to error/, not
// even past give_up_after, which is for transient failures. Once the
// certificate works again everything is published.
func TestSignStashCertificateNotProvisioned(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{faults: sim.Faults{DocErrorRate: 1, DocError: "INVALID_CERT_SERVICE_CREDS"}, jump: true,
		folder: func(f *agent.Folder) { f.GiveUpAfter = time.Millisecond }})
	srv := e.cluster.Instances[0]
	docs := uniquePDFs(t, 5)
	e.start()
	e.dropAll(docs)
	ctx := context.Background()
	var held string
	e.waitFor("folder held", func() bool {
		st, err := e.a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Folders[0].Held != "" {
			held = st.Folders[0].Held
		}
		e.wire.mu.Lock()
		sends := e.wire.sends
		e.wire.mu.Unlock()
		return len(files(e.errDir)) > 0 || (held != "" && len(files(e.inbox)) == 0 && sends >= 4)
	})
	if !strings.Contains(held, "INVALID_CERT_SERVICE_CREDS") {
		t.Errorf("held reason %q does not name the service's signError", held)
	}
	if got := files(e.errDir); len(got) != 0 {
		t.Fatalf("documents bounced to error/ on an account problem: %v", got)
	}
	if got := files(e.outbox); len(got) != 0 {
		t.Fatalf("published while the certificate is refused: %v", got)
	}
	must(t, srv.SetFaults(sim.Faults{}))
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 || len(published) != len(docs) {
		t.Errorf("%d published, failed %v", len(published), failed)
	}
	e.onceEach(published, nil, false)
}

// TestSignStashResumeAfterRestart stops the agent while its async
// operations are pending at three instances, then starts a new agent on the
// same ledger: it polls each operation at the instance that holds it (from
// the ledger), publishes every document once and sends nothing again.
func TestSignStashResumeAfterRestart(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	t.Cleanup(open)
	e := newSimEnv(t, simOpts{instances: 3, gate: gate, jump: true, client: func(c *signstash.Config) { c.Mode = signstash.ModeAsync },
		folder: func(f *agent.Folder) { f.MaxWait = time.Hour }}) // two full batches of 4, both in flight
	docs := uniquePDFs(t, 8)
	// In place before the agent starts, so that its first scan takes them
	// together: a batch goes early when nothing else is on its way.
	e.dropAll(docs)
	e.start()
	ctx := context.Background()
	var inflight []signagent.Operation
	e.waitFor("two operations in flight", func() bool {
		st, err := e.a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inflight = st.Folders[0].InFlight
		return len(inflight) == 2
	})
	e.stop()
	if got := files(e.outbox); len(got) != 0 {
		t.Fatalf("published before the service signed: %v", got)
	}
	e.wire.mu.Lock()
	sends := e.wire.sends
	e.wire.mu.Unlock()
	open()
	e.start()
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 || len(published) != len(docs) {
		t.Errorf("%d published, failed %v", len(published), failed)
	}
	e.onceEach(published, nil, false)
	e.wire.mu.Lock()
	defer e.wire.mu.Unlock()
	if e.wire.sends != sends {
		t.Errorf("%d sends after the restart; the pending operations should have been followed, not sent again", e.wire.sends-sends)
	}
	if e.wire.statuses[http.StatusNotFound] != 0 {
		t.Errorf("%d calls answered 404: an operation was followed at the wrong instance", e.wire.statuses[http.StatusNotFound])
	}
}

// TestSignStashXML signs corpus e-invoices in XML (XAdES enveloped) through
// the emulator in async mode: well-formed ones are published and verify
// (with xmlsec1 when installed), malformed ones are refused by the service
// and land in error/ with SIGNING_ERROR.
func TestSignStashXML(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t, simOpts{client: func(c *signstash.Config) { c.Mode = signstash.ModeAsync }})
	docs := map[string][]byte{}
	bad := map[string]bool{}
	seen := map[[32]byte]bool{}
	good := 0
	for _, p := range corpusFiles(t, ".xml") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if seen[sha256.Sum256(data)] || (wellFormed(data) && good >= 10) || (!wellFormed(data) && len(bad) >= 2) {
			continue
		}
		seen[sha256.Sum256(data)] = true
		name := fmt.Sprintf("x%02d-%s", len(docs), filepath.Base(p))
		docs[name] = data
		if wellFormed(data) {
			good++
		} else {
			bad[name] = true
		}
	}
	e.start()
	e.dropAll(docs)
	e.settled(docs)
	published, failed := e.accounted(docs)
	for _, f := range failed {
		ef := e.errorFile(f)
		if !bad[f] {
			t.Errorf("%s failed: %s %s", f, ef.Code, ef.Message)
		} else if ef.Code != signagent.CodeSigningError || !strings.Contains(ef.Message, "ERROR_SIGNING") {
			t.Errorf("%s: malformed XML got %s %s, want SIGNING_ERROR from the service", f, ef.Code, ef.Message)
		}
	}
	t.Logf("%d well-formed and %d malformed XML documents", good, len(bad))
	if len(published) != good || len(failed) != len(bad) {
		t.Errorf("%d published, %d failed; want %d and %d", len(published), len(failed), good, len(bad))
	}
	e.onceEach(published, failed, false)
	ca := filepath.Join(sharedDataDir(t), "dev", "ca.pem")
	for i, name := range published {
		p := filepath.Join(e.outbox, name)
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%s: own verification failed: %v %+v", name, err, vs)
		}
		if i < 3 && have("xmlsec1") {
			out, err := exec.Command("xmlsec1", "--verify", "--trusted-pem", ca,
				"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", p).CombinedOutput()
			if err != nil {
				t.Errorf("%s: xmlsec1 does not accept it: %v\n%s", name, err, out)
			}
		}
	}
	if !have("xmlsec1") {
		t.Log("xmlsec1 not installed (apt-get install xmlsec1): outputs checked by the Go verifier only")
	}
}

// TestSignStashInstanceRestart restarts every proxy instance of a cluster
// while two async operations are pending: the agent's polls get 404, the
// look-up asks every instance, and only when all deny the operation is the
// batch sent again, once, under a new reference.
func TestSignStashInstanceRestart(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	t.Cleanup(open)
	e := newSimEnv(t, simOpts{instances: 3, gate: gate, client: func(c *signstash.Config) { c.Mode = signstash.ModeAsync },
		folder: func(f *agent.Folder) { f.MaxWait = time.Hour }})
	docs := uniquePDFs(t, 8)
	// In place before the agent starts, so that its first scan takes them
	// together: a batch goes early when nothing else is on its way.
	e.dropAll(docs)
	e.start()
	ctx := context.Background()
	e.waitFor("two operations in flight", func() bool {
		st, err := e.a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Folders[0].InFlight) == 2
	})
	for _, s := range e.cluster.Instances {
		s.Restart()
	}
	open()
	e.settled(docs)
	published, failed := e.accounted(docs)
	if len(failed) > 0 || len(published) != len(docs) {
		t.Errorf("%d published, failed %v", len(published), failed)
	}
	// A signature already under way when its instance restarted completes
	// unseen: a document may be signed twice, and is published once.
	e.onceEach(published, nil, true)
	e.wire.mu.Lock()
	defer e.wire.mu.Unlock()
	if e.wire.sends != 4 {
		t.Errorf("%d sends, want 4: each of the 2 batches once, then once more after every instance denied it (%s)", e.wire.sends, e.wire.String())
	}
	if e.wire.statuses[http.StatusNotFound] == 0 {
		t.Error("no poll was answered 404: the restart was not tested")
	}
}

// halves splits documents into two groups of (nearly) equal size, for tests
// that change something between two rounds of drops.
func halves(all map[string][]byte) (first, second map[string][]byte) {
	first, second = map[string][]byte{}, map[string][]byte{}
	for name, data := range all {
		if len(first) < len(all)/2 {
			first[name] = data
		} else {
			second[name] = data
		}
	}
	return first, second
}
