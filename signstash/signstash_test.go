package signstash_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

const (
	alias  = "PRT.505767457-PRT.123654123-84dd8c"
	secret = "s3cr3t-do-not-log"
)

// env is an emulator cluster and a client pointed at it.
type env struct {
	t       *testing.T
	cluster *sim.Cluster
	cfg     signstash.Config
	client  *signstash.Client
	dir     string
	simCfg  sim.Config
}

func newEnv(t *testing.T, n int, simCfg sim.Config, mod func(*signstash.Config)) *env {
	t.Helper()
	if simCfg.Clients == nil {
		simCfg.Clients = map[string]sim.Client{alias: {Secret: secret}}
	}
	if simCfg.Sign == nil {
		simCfg.Sign = testSign
	}
	c, err := sim.StartCluster(simCfg, "127.0.0.1:0", n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := &env{t: t, cluster: c, dir: t.TempDir(), simCfg: simCfg}
	e.cfg = signstash.Config{
		Name:         "test",
		BaseURL:      c.URL + "/signstash/einvoice-integration-client-ws",
		TokenURL:     c.URL + "/oauth2/authorization-server/oauth/token",
		ClientID:     alias,
		ClientSecret: secret,
		PollInterval: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(&e.cfg)
	}
	e.client, err = signstash.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// batch makes n documents copied from the corpus (or generated), with
// references prefixed by ref.
func (e *env) batch(ref string, n int, srcs ...string) *signing.Batch {
	e.t.Helper()
	if len(srcs) == 0 {
		srcs = corpusPDFs(e.t, 3)
	}
	b := &signing.Batch{Ref: ref}
	for i := range n {
		src := srcs[i%len(srcs)]
		name := fmt.Sprintf("doc %03d%s", i, filepath.Ext(src))
		p := filepath.Join(e.dir, ref+"-"+name)
		copyFile(e.t, src, p)
		fi, _ := os.Stat(p)
		b.Docs = append(b.Docs, signing.Doc{Ref: fmt.Sprintf("%s.d%03d", ref, i), Name: name, Path: p, Size: fi.Size(),
			Out: p + ".signed", Opts: signing.Options{Type: signing.TypeAuto, Reason: "Invoice", Location: "Lisboa"}})
	}
	return b
}

func corpusPDFs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	filepath.WalkDir("../testdata/corpus", func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".pdf") && strings.Contains(p, "/correct/") && len(out) < n {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Skip("no PDF in ../testdata/corpus")
	}
	return out
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkSigned asserts every document of b was signed: its Out holds the
// original followed by the signature.
func checkSigned(t *testing.T, b *signing.Batch, op *signing.Operation) {
	t.Helper()
	if !op.Done || len(op.Results) != len(b.Docs) {
		t.Fatalf("operation not done or wrong result count: %+v", op)
	}
	for i, d := range b.Docs {
		if r := op.Results[i]; r.Ref != d.Ref || r.Err != nil {
			t.Fatalf("doc %s: result %+v", d.Ref, r)
		}
		verifySigned(t, d)
	}
}

// settle polls op until it is Done.
func (e *env) settle(ctx context.Context, b *signing.Batch, op *signing.Operation) *signing.Operation {
	e.t.Helper()
	for i := 0; !op.Done; i++ {
		if i > 2000 {
			e.t.Fatal("operation never finished")
		}
		time.Sleep(op.PollAfter)
		var err error
		if op, err = e.client.Poll(ctx, b, op); err != nil {
			e.t.Fatalf("poll: %v", err)
		}
	}
	return op
}

func TestSyncBatchSigned(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	ctx := context.Background()
	b := e.batch("sync-1", 5)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	checkSigned(t, b, op)
	for _, d := range b.Docs {
		if n := e.cluster.Instances[0].Signed(d.Ref); n != 1 {
			t.Fatalf("%s signed %d times", d.Ref, n)
		}
	}
}

func TestAsyncBatchSigned(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, func(c *signstash.Config) { c.SyncMaxFiles = 2 })
	ctx := context.Background()
	b := e.batch("async-1", 7)
	op, err := e.client.Submit(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if op.Done || op.Endpoint == "" || op.ID == "" {
		t.Fatalf("async submit returned %+v", op)
	}
	op = e.settle(ctx, b, op)
	checkSigned(t, b, op)
}

func TestUnsupportedDocumentFailsAlone(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	other := filepath.Join(e.dir, "notes.txt")
	os.WriteFile(other, []byte("hello"), 0o600)
	b := e.batch("mixed", 2)
	b.Docs = append(b.Docs, signing.Doc{Ref: "mixed.txt", Name: "notes.txt", Path: other, Size: 5, Out: other + ".signed"})
	op, err := e.client.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if op.Results[0].Err != nil || op.Results[1].Err != nil {
		t.Fatalf("pdfs failed: %+v", op.Results)
	}
	if signagent.CodeOf(op.Results[2].Err) != signagent.CodeUnsupported || signagent.KindOf(op.Results[2].Err) != signagent.KindDocument {
		t.Fatalf("txt: %v", op.Results[2].Err)
	}
	if _, err := os.Stat(other + ".signed"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an output exists for the failed document")
	}
}
