package agent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

const corpus = "../testdata/corpus"

// env is one agent over temp folders with the real local signer.
type env struct {
	t                                   *testing.T
	dir, inbox, outbox, errDir, archive string
	db                                  *ledger.DB
	local                               *signer.Local
	folder                              *agent.Folder
	a                                   *agent.Agent
	cancel                              context.CancelFunc
	done                                chan error
	logs                                *syncBuffer
	// clock, when set, is the agent's clock (jumpTime); stopClock stops
	// its driver once the agent has stopped.
	clock     clockwork.Clock
	stopClock func()
}

var (
	localOnce sync.Once
	localDir  string
)

// sharedDataDir keeps one development certificate for the whole package so
// each test does not generate an RSA key.
func sharedDataDir(t *testing.T) string {
	localOnce.Do(func() {
		d, err := os.MkdirTemp("", "signagent-agent-test-")
		if err != nil {
			t.Fatal(err)
		}
		localDir = d
	})
	return localDir
}

func TestMain(m *testing.M) {
	// The development certificate is made once, before tests that run in
	// parallel load it.
	d, err := os.MkdirTemp("", "signagent-agent-test-")
	if err == nil {
		localOnce.Do(func() { localDir = d })
		_, err = signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev", DataDir: d})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "development certificate:", err)
		os.Exit(1)
	}
	code := m.Run()
	simsClosing.Wait()
	if localDir != "" {
		os.RemoveAll(localDir)
	}
	os.Exit(code)
}

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

func newEnv(t *testing.T, mutate func(*agent.Folder)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, logs: &syncBuffer{},
		inbox: filepath.Join(dir, "inbox"), outbox: filepath.Join(dir, "outbox"),
		errDir: filepath.Join(dir, "error"), archive: filepath.Join(dir, "archive")}
	db, err := ledger.Open(filepath.Join(dir, "data", "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.local, err = signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev", DataDir: sharedDataDir(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.folder = &agent.Folder{
		Name: "invoices", Inbox: e.inbox, Outbox: e.outbox, Error: e.errDir, Archive: e.archive,
		Backend: e.local, Opts: signing.Options{Type: signing.TypeAuto, Reason: "Invoice", Location: "Lisboa"},
		MaxFiles: 10, MaxWait: 100 * time.Millisecond,
		Watch: watcher.Config{Include: []string{"*.pdf", "*.xml", "*.txt"}, Settle: 50 * time.Millisecond,
			ScanInterval: 250 * time.Millisecond, EmptyGrace: 200 * time.Millisecond},
	}
	if mutate != nil {
		mutate(e.folder)
	}
	for _, d := range []string{e.inbox, e.outbox, e.errDir, e.archive} {
		os.MkdirAll(d, 0o755)
	}
	t.Cleanup(func() {
		e.stop()
		if e.stopClock != nil {
			e.stopClock()
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *env) start() { e.startWith(nil) }

// startWith starts the agent after mutate (if any) adjusts it.
func (e *env) startWith(mutate func(*agent.Agent)) {
	e.t.Helper()
	e.a = &agent.Agent{Ledger: e.db, Folders: []*agent.Folder{e.folder},
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HoldRetry: 200 * time.Millisecond, Grace: 2 * time.Second, Clock: e.clock}
	if mutate != nil {
		mutate(e.a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.a.Run(ctx) }()
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("agent.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.t.Error("agent did not stop within 30 s")
	}
	e.cancel = nil
}

// jumpTime gives the agent (and the ledger) a jumpClock for the rest of
// the test: its waits end at once, in the clock's time.
func (e *env) jumpTime() *jumpClock {
	c := newJumpClock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()
	e.clock, e.db.Now = c, c.Now
	e.stopClock = func() { cancel(); <-done }
	return c
}

// drop writes a file into the inbox the recommended way: temp name, rename.
func (e *env) drop(rel string, data []byte) {
	e.t.Helper()
	p := filepath.Join(e.inbox, filepath.FromSlash(rel))
	os.MkdirAll(filepath.Dir(p), 0o755)
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		e.t.Fatal(err)
	}
}

// files lists regular files under dir (relative, slash-separated), skipping
// dot-entries.
func files(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// waitFor polls cond until it holds or a generous deadline passes. It
// synchronises on what cond observes; the pause between looks only spaces
// them: short at first, since most conditions hold within milliseconds,
// growing to 50 ms for the long waits.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for pause := time.Millisecond; !cond(); pause = min(pause*3/2+time.Millisecond, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
	}
}

func (e *env) errorFile(name string) agent.ErrorFile {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.errDir, name+".error.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var ef agent.ErrorFile
	if err := json.Unmarshal(b, &ef); err != nil {
		e.t.Fatal(err)
	}
	return ef
}

func corpusFiles(t *testing.T, ext string) []string {
	var out []string
	filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ext) {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Skipf("no %s files under %s", ext, corpus)
	}
	sort.Strings(out)
	return out
}

func pdfsig(t *testing.T, path string) string {
	t.Helper()
	out, _ := exec.Command("pdfsig", path).CombinedOutput()
	return string(out)
}

func have(tool string) bool { _, err := exec.LookPath(tool); return err == nil }

// TestCorpusEndToEnd runs the agent on every corpus document and checks
// every output with the independent verifier and our own.
func TestCorpusEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(f *agent.Folder) { f.Watch.Recursive = true })
	e.start()
	pdfs := corpusFiles(t, ".pdf")
	xmls := corpusFiles(t, ".xml")
	if testing.Short() {
		pdfs, xmls = pdfs[:5], xmls[:5]
	}
	want := map[string]bool{}    // outputs expected
	wantErr := map[string]bool{} // malformed XML in the corpus: NOT_XML expected
	seen := map[[32]byte]bool{}  // the corpus repeats some documents; identical content is DUPLICATE by design
	for i, p := range append(pdfs, xmls...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if seen[sha256.Sum256(data)] {
			continue
		}
		seen[sha256.Sum256(data)] = true
		// Unique names; a sub-folder for some, mirrored in the outbox.
		rel := filepath.Base(p)
		if i%7 == 0 {
			rel = "sub/" + rel
		}
		if want[rel] {
			rel = strings.TrimSuffix(rel, filepath.Ext(rel)) + "-" + filepath.Base(filepath.Dir(p)) + filepath.Ext(rel)
		}
		if strings.HasSuffix(rel, ".xml") && !wellFormed(data) {
			wantErr[rel] = true
		} else {
			want[rel] = true
		}
		e.drop(rel, data)
	}
	e.waitFor("every document published or failed", func() bool {
		return len(files(e.outbox))+len(files(e.errDir))/2 >= len(want)+len(wantErr)
	})
	for _, f := range files(e.errDir) {
		if strings.HasSuffix(f, ".error.json") {
			ef := e.errorFile(f[:len(f)-len(".error.json")])
			if !wantErr[f[:len(f)-len(".error.json")]] || ef.Code != signagent.CodeNotXML {
				t.Errorf("%s failed: %s %s", f, ef.Code, ef.Message)
			}
		}
	}
	got := files(e.outbox)
	if len(got) != len(want) {
		t.Fatalf("outbox has %d files, want %d: %v", len(got), len(want), got)
	}
	for _, rel := range got {
		if !want[rel] {
			t.Errorf("unexpected output %s", rel)
		}
		p := filepath.Join(e.outbox, filepath.FromSlash(rel))
		vs, err := signer.VerifyFile(context.Background(), p)
		if err != nil || len(vs) == 0 || !vs[len(vs)-1].Valid {
			t.Errorf("%s: own verification failed: %v %+v", rel, err, vs)
		}
		if strings.HasSuffix(rel, ".pdf") && have("pdfsig") {
			out := pdfsig(t, p)
			if !strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "ETSI.CAdES.detached") {
				t.Errorf("%s: pdfsig does not accept it:\n%s", rel, out)
			}
		}
	}
	if left := files(e.inbox); len(left) > 0 {
		t.Errorf("inbox not empty: %v", left)
	}
	if n := len(files(e.archive)); n != len(want) {
		t.Errorf("archive has %d originals, want %d", n, len(want))
	}
	e.waitFor("every output recorded as published", func() bool {
		st, err := e.a.Status(context.Background())
		return err == nil && st.Folders[0].Counts[signagent.StatePublished] == len(want)
	})
}

func TestBadInputsGetErrorFiles(t *testing.T) {
	t.Parallel()
	// The empty file fails once it has stayed empty a little while.
	e := newEnv(t, func(f *agent.Folder) { f.Watch.EmptyGrace = 20 * time.Millisecond })
	good, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		data []byte
		code signagent.Code
	}{
		"empty.pdf":     {nil, signagent.CodeEmptyFile},
		"notapdf.pdf":   {[]byte("this is a plain text file, not a PDF\n"), signagent.CodeNotAPDF},
		"truncated.pdf": {good[:len(good)/3], signagent.CodeCorruptPDF},
		"broken.xml":    {[]byte("<invoice><unclosed></invoice>"), signagent.CodeNotXML},
	}
	if have("qpdf") {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "enc.pdf")
		os.WriteFile(in, good, 0o644)
		if b, err := exec.Command("qpdf", "--encrypt", "", "owner", "256", "--", in, out).CombinedOutput(); err != nil {
			t.Fatalf("qpdf: %v\n%s", err, b)
		}
		enc, _ := os.ReadFile(out)
		cases["encrypted.pdf"] = struct {
			data []byte
			code signagent.Code
		}{enc, signagent.CodeEncryptedPDF}
	}
	e.start()
	e.drop("good.pdf", good)
	e.waitFor("good.pdf published", func() bool { return len(files(e.outbox)) == 1 })
	for name, c := range cases {
		e.drop(name, c.data)
	}
	e.drop("again.pdf", good) // same content as good.pdf
	e.waitFor("error files", func() bool { return len(files(e.errDir)) == 2*(len(cases)+1) })
	for name, c := range cases {
		ef := e.errorFile(name)
		if ef.Code != c.code {
			t.Errorf("%s: code %s, want %s (%s)", name, ef.Code, c.code, ef.Message)
		}
		if ef.Message == "" || ef.Hint == "" || ef.SHA256 == "" || ef.Backend != "local" || ef.FailedAt.IsZero() || ef.FirstSeen.IsZero() {
			t.Errorf("%s: incomplete error file %+v", name, ef)
		}
		orig, err := os.ReadFile(filepath.Join(e.errDir, name))
		if err != nil || !bytes.Equal(orig, c.data) {
			t.Errorf("%s: original not kept byte for byte in error/: %v", name, err)
		}
	}
	if ef := e.errorFile("again.pdf"); ef.Code != signagent.CodeDuplicate {
		t.Errorf("duplicate content: code %s, want DUPLICATE", ef.Code)
	}
	if got := files(e.outbox); len(got) != 1 {
		t.Errorf("outbox: %v, want only good.pdf", got)
	}
	// The agent keeps running after bad input.
	e.drop("later.pdf", append(append([]byte{}, good...), []byte("\n% later\n")...))
	e.waitFor("later.pdf published", func() bool { return len(files(e.outbox)) == 2 })
}

func TestCollisionPolicies(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	existing := []byte("existing output, not ours")
	for _, policy := range []string{agent.CollisionSuffix, agent.CollisionOverwrite, agent.CollisionFail} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, func(f *agent.Folder) { f.OnCollision = policy })
			os.WriteFile(filepath.Join(e.outbox, "inv.pdf"), existing, 0o644)
			e.start()
			e.drop("inv.pdf", pdf)
			switch policy {
			case agent.CollisionSuffix:
				e.waitFor("suffixed output", func() bool { return exists(filepath.Join(e.outbox, "inv (1).pdf")) })
				if b, _ := os.ReadFile(filepath.Join(e.outbox, "inv.pdf")); !bytes.Equal(b, existing) {
					t.Error("existing output was changed")
				}
			case agent.CollisionOverwrite:
				e.waitFor("overwritten output", func() bool {
					b, _ := os.ReadFile(filepath.Join(e.outbox, "inv.pdf"))
					return len(b) > len(pdf)
				})
				if got := files(e.outbox); len(got) != 1 {
					t.Errorf("outbox %v", got)
				}
			case agent.CollisionFail:
				e.waitFor("error file", func() bool { return exists(filepath.Join(e.errDir, "inv.pdf.error.json")) })
				if ef := e.errorFile("inv.pdf"); ef.Code != signagent.CodeCollision {
					t.Errorf("code %s", ef.Code)
				}
				if b, _ := os.ReadFile(filepath.Join(e.outbox, "inv.pdf")); !bytes.Equal(b, existing) {
					t.Error("existing output was changed")
				}
			}
		})
	}
}

func TestCAdESPublishesContentAndSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.start()
	e.drop("data.txt", []byte("plain data to sign\n"))
	e.waitFor("p7s", func() bool { return exists(filepath.Join(e.outbox, "data.txt.p7s")) })
	if b, _ := os.ReadFile(filepath.Join(e.outbox, "data.txt")); string(b) != "plain data to sign\n" {
		t.Fatalf("content copy: %q", b)
	}
	vs, err := signer.VerifyFile(context.Background(), filepath.Join(e.outbox, "data.txt.p7s"))
	if err != nil || len(vs) != 1 || !vs[0].Valid {
		t.Fatalf("verify: %v %+v", err, vs)
	}
}

// wellFormed reports whether data parses as XML to the end.
func wellFormed(data []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// TestAwkwardNames signs files whose names have spaces, Unicode, leading
// dashes and several dots; outputs keep their names.
func TestAwkwardNames(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(f *agent.Folder) { f.Watch.Recursive = true })
	e.start()
	names := []string{"-leading dash.pdf", "fa\u00e7ture \u00f1 \u8acb\u6c42\u66f8.pdf", "with  two  spaces.pdf",
		"many.dots.in.name.pdf", "sub dir/--x.pdf"}
	for i, n := range names {
		e.drop(n, append(append([]byte{}, pdf...), []byte(fmt.Sprintf("\n%% %d\n", i))...))
	}
	e.waitFor("all published", func() bool { return len(files(e.outbox)) == len(names) })
	got := files(e.outbox)
	sort.Strings(names)
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("outputs %q, want %q", got, names)
	}
}

// TestOutboxVanishesAndComesBack: an unmounted outbox share holds the
// folder (nothing bounces to error/, nothing is created on the local disk
// in its place) and publication resumes when it is back.
func TestOutboxVanishesAndComesBack(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	e.start()
	e.waitFor("agent started", func() bool { return strings.Contains(e.logs.String(), "agent started") })
	away := e.outbox + ".unmounted"
	must(t, os.Rename(e.outbox, away))
	e.drop("inv.pdf", pdf)
	e.waitFor("folder held", func() bool {
		st, err := e.a.Status(context.Background())
		return err == nil && st.Folders[0].Held != ""
	})
	if exists(e.outbox) {
		t.Fatal("the agent created the missing outbox")
	}
	if got := files(e.errDir); len(got) != 0 {
		t.Fatalf("document bounced to error/: %v", got)
	}
	must(t, os.Rename(away, e.outbox))
	e.waitFor("published after the outbox came back", func() bool { return exists(filepath.Join(e.outbox, "inv.pdf")) })
	e.waitFor("hold released", func() bool {
		st, err := e.a.Status(context.Background())
		return err == nil && st.Folders[0].Held == ""
	})
}

// TestAlreadySignedTooLargeAndSymlink covers the remaining bad-input kinds
// of the design: an already signed PDF gets a second signature (the first
// stays valid), a file over max_size fails with TOO_LARGE, and a symlink to
// a PDF is moved to error/ as NOT_A_REGULAR_FILE, never read.
func TestAlreadySignedTooLargeAndSymlink(t *testing.T) {
	t.Parallel()
	pdfs := corpusFiles(t, ".pdf")
	small, err := os.ReadFile(pdfs[0])
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	signedOnce := filepath.Join(t.TempDir(), "signed.pdf")
	if _, err := e.local.SignFile(context.Background(), pdfs[0], signedOnce, "x.pdf", signing.Options{Type: signing.TypeAuto}); err != nil {
		t.Fatal(err)
	}
	twice, _ := os.ReadFile(signedOnce)
	limited, err := signer.NewLocal(signer.LocalConfig{Name: "local", Certificate: "dev", DataDir: sharedDataDir(t),
		MaxSize: int64(len(twice)) + 4096, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.folder.Backend = limited
	big := append(append([]byte{}, twice...), bytes.Repeat([]byte("% padding to exceed max_size\n"), 1000)...)
	target := filepath.Join(t.TempDir(), "elsewhere.pdf")
	os.WriteFile(target, append(append([]byte{}, small...), []byte("\n% linked\n")...), 0o644)

	e.start()
	e.drop("again.pdf", twice)
	e.drop("big.pdf", big)
	if err := os.Symlink(target, filepath.Join(e.inbox, "link.pdf")); err != nil {
		t.Fatal(err)
	}
	e.waitFor("outcomes", func() bool { return len(files(e.outbox)) == 1 && len(files(e.errDir)) == 4 })
	vs, err := signer.VerifyFile(context.Background(), filepath.Join(e.outbox, "again.pdf"))
	if err != nil || len(vs) != 2 || !vs[0].Valid || !vs[1].Valid {
		t.Errorf("already signed PDF: want two valid signatures, got %v %+v", err, vs)
	}
	if have("pdfsig") {
		if out := pdfsig(t, filepath.Join(e.outbox, "again.pdf")); strings.Count(out, "Signature is Valid.") != 2 {
			t.Errorf("pdfsig on the twice-signed PDF:\n%s", out)
		}
	}
	if ef := e.errorFile("big.pdf"); ef.Code != signagent.CodeTooLarge {
		t.Errorf("big.pdf: %s %s", ef.Code, ef.Message)
	}
	// A link is never read through: the link itself goes to error/.
	if ef := e.errorFile("link.pdf"); ef.Code != signagent.CodeNotRegular {
		t.Errorf("link.pdf: %s %s", ef.Code, ef.Message)
	}
}
