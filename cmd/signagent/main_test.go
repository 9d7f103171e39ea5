package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash/sim"
)

const corpus = "../../testdata/corpus"

func corpusPDF(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, "XML-Rechnung/FX/EN16931_Einfach.pdf"))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

// uniquePDF returns a valid PDF whose bytes differ by a trailing comment.
func uniquePDF(base []byte, tag string) []byte {
	return append(append([]byte{}, base...), []byte("\n% "+tag+"\n")...)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runCmd runs the CLI in-process and returns its exit code and output.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errb lockedBuffer
	code := run(context.Background(), args, getenv, &out, &errb)
	return code, out.String(), errb.String()
}

// layout makes a temp folder set and writes a config for it.
type layout struct {
	dir, cfg, inbox, outbox, errDir, archive, data string
}

func newLayout(t *testing.T, extra string) *layout {
	t.Helper()
	dir := t.TempDir()
	l := &layout{dir: dir, cfg: filepath.Join(dir, "signagent.toml"),
		inbox: filepath.Join(dir, "inbox"), outbox: filepath.Join(dir, "outbox"),
		errDir: filepath.Join(dir, "error"), archive: filepath.Join(dir, "archive"), data: filepath.Join(dir, "data")}
	for _, d := range []string{l.inbox, l.outbox, l.errDir, l.archive} {
		os.MkdirAll(d, 0o755)
	}
	writeConfig(t, l, extra, `[backends.local]
type = "local"
certificate = "dev"
`, "")
	return l
}

func writeConfig(t *testing.T, l *layout, top, backends, folderExtra string) {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir = %q
log_level = "debug"
%s
%s
[[folders]]
name = "invoices"
inbox = %q
outbox = %q
error = %q
archive = %q
include = ["*.pdf", "*.xml", "*.txt"]
settle = "100ms"
scan_interval = "500ms"
max_wait = "200ms"
max_files = 5
%s
`, l.data, top, backends, l.inbox, l.outbox, l.errDir, l.archive, folderExtra)
	if err := os.WriteFile(l.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func listFiles(dir string) []string {
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
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startAgent runs `signagent run` in-process until the test ends.
func startAgent(t *testing.T, l *layout, getenv func(string) string, logs *lockedBuffer, flags ...string) (stop func() int) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"run", "--config", l.cfg}, flags...), getenv, logs, logs) }()
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Error("agent did not stop")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestBadConfigExitCode(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.toml")
	os.WriteFile(cfg, []byte("data_dir = \"x\"\n\n[[folders]]\nname = \"a\"\nsettle = \"soon\"\nbogus = 1\n"), 0o600)
	for _, cmd := range []string{"run", "check", "status"} {
		code, stdout, stderr := runCmd(t, nil, cmd, "--config", cfg)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", cmd, code, exitUsage, stderr)
		}
		if cmd == "check" {
			stderr = stdout + stderr // check reports on stdout
		}
		for _, want := range []string{"folders[0].settle", "bad.toml:5", "bogus", "bad.toml:6", "hint: "} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, stderr)
			}
		}
	}
	if code, _, _ := runCmd(t, nil, "frobnicate"); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, out, _ := runCmd(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "signagent ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestSignAndVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	pdf := filepath.Join(dir, "in", "invoice.pdf")
	xml := filepath.Join(dir, "in", "invoice.xml")
	txt := filepath.Join(dir, "in", "notes.txt")
	os.MkdirAll(filepath.Dir(pdf), 0o755)
	os.WriteFile(pdf, corpusPDF(t), 0o644)
	xmlData, err := os.ReadFile(filepath.Join(corpus, "XML-Rechnung/UBL/EN16931_Einfach.ubl.xml"))
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(xml, xmlData, 0o644)
	os.WriteFile(txt, []byte("plain notes\n"), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCmd(t, nil, "sign", "--data-dir", filepath.Join(dir, "data"), "--out", out, pdf, xml, txt)
	if code != 0 {
		t.Fatalf("sign: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "NOT trusted") {
		t.Errorf("no loud dev-certificate warning:\n%s", stderr)
	}
	signed := []string{filepath.Join(out, "invoice.pdf"), filepath.Join(out, "invoice.xml"), filepath.Join(out, "notes.txt.p7s")}
	// The .p7s is checked against its content, which sign copied beside it.
	code, stdout, stderr = runCmd(t, nil, append([]string{"verify"}, signed...)...)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"invoice.pdf: signature 1: VALID (pades)", "invoice.xml: signature 1: VALID (xades)", "notes.txt.p7s: signature 1: VALID (cades)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, stdout)
		}
	}
	// One flipped byte inside the signed content: exit 3.
	b, _ := os.ReadFile(signed[0])
	b[len(b)/3] ^= 0x01
	os.WriteFile(signed[0], b, 0o644)
	if code, stdout, _ = runCmd(t, nil, "verify", signed[0]); code != exitInvalid {
		t.Errorf("tampered PDF: exit %d, want %d\n%s", code, exitInvalid, stdout)
	}
	// An unsigned file is not valid either.
	if code, _, _ = runCmd(t, nil, "verify", pdf); code != exitInvalid {
		t.Errorf("unsigned PDF: exit %d, want %d", code, exitInvalid)
	}
}

// TestRunStatusMetricsHealth runs the agent from its config, scrapes the
// operations endpoints during the run and reads `status --json`.
func TestRunStatusMetricsHealth(t *testing.T) {
	l := newLayout(t, "")
	addr := freeAddr(t)
	writeConfig(t, l, fmt.Sprintf("listen = %q", addr), "[backends.local]\ntype = \"local\"\n", "")
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	base := corpusPDF(t)
	for i := range 3 {
		os.WriteFile(filepath.Join(l.inbox, fmt.Sprintf("inv-%d.pdf", i)), uniquePDF(base, fmt.Sprint(i)), 0o644)
	}
	waitFor(t, "3 published", func() bool { return len(listFiles(l.outbox)) == 3 })
	// Outputs land just before their publication is recorded.
	waitFor(t, "3 recorded as published", func() bool {
		resp, err := http.Get("http://" + addr + "/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st signagent.Status
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Folders[0].Counts[signagent.StatePublished] == 3
	})

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, metrics := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{`signagent_documents_total{folder="invoices",state="published"} 3`,
		`signagent_ledger_documents{folder="invoices",state="published"} 3`, "signagent_stage_seconds_bucket", "signagent_ledger_bytes"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body := get("/status")
	var st signagent.Status
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Folders[0].Counts[signagent.StatePublished] != 3 {
		t.Errorf("/status: %d %s", code, body)
	}

	// status --json works while the agent runs and agrees.
	code, out, stderr := runCmd(t, nil, "status", "--config", l.cfg, "--json")
	var st2 signagent.Status
	if code != 0 || json.Unmarshal([]byte(out), &st2) != nil || st2.Folders[0].Counts[signagent.StatePublished] != 3 {
		t.Errorf("status --json: %d %s %s", code, out, stderr)
	}
	if code, out, _ := runCmd(t, nil, "status", "--config", l.cfg); code != 0 || !strings.Contains(out, "invoices") {
		t.Errorf("status: %d %s", code, out)
	}
	if code := stop(); code != 0 {
		t.Errorf("run exit %d after a graceful stop\n%s", code, logs.String())
	}
}

// TestRetryMovesFailedDocumentToSigned fails a document (output name taken,
// on_collision = fail), clears the cause, and requeues it with `retry`.
func TestRetryMovesFailedDocumentToSigned(t *testing.T) {
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", `on_collision = "fail"`)
	logs := &lockedBuffer{}
	startAgent(t, l, nil, logs)
	// Once the agent has its ledger: before, a file in the outbox is a sign
	// of earlier use that keeps a first run from creating one.
	waitFor(t, "the ledger", func() bool { return ledgerCreated(l) })
	os.WriteFile(filepath.Join(l.outbox, "inv.pdf"), []byte("someone else's file"), 0o644)
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), corpusPDF(t), 0o644)
	waitFor(t, "error file", func() bool { _, err := os.Stat(filepath.Join(l.errDir, "inv.pdf.error.json")); return err == nil })
	os.Remove(filepath.Join(l.outbox, "inv.pdf"))

	code, out, stderr := runCmd(t, nil, "retry", "--config", l.cfg, "--all")
	if code != 0 || !strings.Contains(out, "1 document(s) requeued") {
		t.Fatalf("retry: %d %s %s", code, out, stderr)
	}
	waitFor(t, "signed output", func() bool {
		b, _ := os.ReadFile(filepath.Join(l.outbox, "inv.pdf"))
		return bytes.HasPrefix(b, []byte("%PDF"))
	})
	if left := listFiles(l.errDir); len(left) != 0 {
		t.Errorf("error/ still holds %v", left)
	}
	// The ledger notes the requeue.
	db, err := openLedger(mustLoad(t, l.cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lst, _ := db.Status(context.Background(), []string{"invoices"})
	if f := lst.Folders[0].Failures; len(f) != 1 || !strings.HasPrefix(f[0].Message, "requeued by retry") {
		t.Errorf("the failure is not noted as requeued: %+v", f)
	}
	// The file lands in the outbox just before its publication is recorded.
	ln, err := listenLocal(t.TempDir())
	if err != nil {
		// Wine: no local sockets, so status cannot reach an agent run
		// with listen = "off"; the ledger tells instead.
		t.Logf("no local sockets here (%v): publication checked in the ledger", err)
		waitFor(t, "ledger: 1 published", func() bool {
			st, err := db.Status(context.Background(), []string{"invoices"})
			return err == nil && st.Folders[0].Counts[signagent.StatePublished] == 1
		})
		return
	}
	ln.Close()
	waitFor(t, "status: 1 published", func() bool {
		code, out, _ := runCmd(t, nil, "status", "--config", l.cfg, "--json")
		var st signagent.Status
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Folders[0].Counts[signagent.StatePublished] == 1
	})
}

// TestLogsNeverLeakSecretsOrContent runs the agent against the Sign'Stash
// emulator with a known secret and a document carrying a marker, at debug
// level, through success and an authentication failure.
func TestLogsNeverLeakSecretsOrContent(t *testing.T) {
	const alias = "PRT.505767457-PRT.123654123-84dd8c"
	const secret = "S3cr3t-never-in-logs-7f2a"
	const marker = "DOCUMENT-CONTENT-MARKER-91c4"
	// Real signatures: the agent verifies every output before publishing.
	local, err := signer.NewLocal(signer.LocalConfig{Name: "sim", Certificate: "dev", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.New(sim.Config{Clients: map[string]sim.Client{alias: {Secret: secret}}, Logger: slog.New(slog.DiscardHandler),
		Sign: func(ctx context.Context, in, out, name string, typ signing.Type, o signing.Options) error {
			o.Type = typ
			_, err := local.SignFile(ctx, in, out, name, o)
			return err
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	l := newLayout(t, "")
	secretFile := filepath.Join(l.dir, "client.secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	backend := fmt.Sprintf(`[backends.sim]
type = "signstash"
base_url = %q
token_url = %q
client_id = %q
client_secret_file = %q
mode = "sync"
`, hs.URL+"/signstash/einvoice-integration-client-ws", hs.URL+"/oauth2/authorization-server/oauth/token", alias, secretFile)
	writeConfig(t, l, `listen = "off"`, backend, "")
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	doc := uniquePDF(corpusPDF(t), marker)
	os.WriteFile(filepath.Join(l.inbox, "inv.pdf"), doc, 0o644)
	waitFor(t, "published via the emulator", func() bool { return len(listFiles(l.outbox)) == 1 })
	stop()

	// A wrong secret through the env reference: check and run fail, and say why without the secret.
	wrong := "Wr0ng-secret-never-in-logs-55b1"
	backendEnv := strings.Replace(backend, fmt.Sprintf("client_secret_file = %q", secretFile), `client_secret_env = "SIM_SECRET"`, 1)
	writeConfig(t, l, `listen = "off"`, backendEnv, "")
	getenv := func(k string) string {
		if k == "SIM_SECRET" {
			return wrong
		}
		return ""
	}
	code, out, stderr := runCmd(t, getenv, "check", "--config", l.cfg)
	if code == 0 {
		t.Errorf("check with a wrong secret passed:\n%s", out)
	}
	all := logs.String() + out + stderr
	for _, s := range []string{secret, wrong, marker, "JVBERi0"} { // JVBERi0 = base64 of "%PDF-"
		if strings.Contains(all, s) {
			t.Errorf("logs or output contain %q", s)
		}
	}
	if !strings.Contains(logs.String(), "published") {
		t.Errorf("logs lack the state changes:\n%s", logs.String())
	}
}

// TestCrashLoopExactlyOnce kills the real binary with SIGKILL at random
// moments while documents flow, restarts it, and checks that every input
// ends up signed exactly once.
func TestCrashLoopExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs for a while")
	}
	bin := filepath.Join(t.TempDir(), "signagent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l := newLayout(t, "")
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	base := corpusPDF(t)
	const perRound, rounds = 25, 8
	n := 0
	drop := func(k int) {
		for range k {
			name := fmt.Sprintf("doc-%03d.pdf", n)
			tmp := filepath.Join(l.inbox, "."+name+".part")
			os.WriteFile(tmp, uniquePDF(base, name), 0o644)
			os.Rename(tmp, filepath.Join(l.inbox, name))
			n++
		}
	}
	var logs lockedBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--config", l.cfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for r := range rounds {
		drop(perRound) // some arrive while the agent is down
		before := len(listFiles(l.outbox))
		cmd := start()
		// Kill while documents are in flight: right after the first new
		// publication of the round (more batches are still on their way),
		// plus a varying delay so the kill lands at different steps.
		deadline := time.Now().Add(60 * time.Second)
		for len(listFiles(l.outbox)) == before && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(r*7) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no chance to clean up
		cmd.Wait()
	}
	cmd := start()
	waitFor(t, "every document published", func() bool { return len(listFiles(l.outbox)) >= n })
	time.Sleep(500 * time.Millisecond)  // let a possible duplicate show up
	cmd.Process.Signal(syscall.SIGTERM) // what systemd and the SCM wrapper send
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Error("no exit after SIGTERM")
	}
	// The kills must have interrupted real work, or this test proves nothing.
	interrupted := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "msg=reconciled") && !strings.Contains(line, "requeued=0 batches=0 republished=0 cleaned=0 failures_finished=0 forgotten=0") {
			interrupted++
		}
	}
	t.Logf("%d documents, %d restarts found unfinished work", n, interrupted)
	if interrupted == 0 {
		t.Error("no restart found unfinished work: the kills never hit the pipeline")
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}

	out := listFiles(l.outbox)
	if len(out) != n {
		t.Errorf("outbox has %d files for %d inputs: %v", len(out), n, out)
	}
	seen := map[string]bool{}
	for _, f := range out {
		if seen[f] || strings.Contains(f, " (") {
			t.Errorf("published twice: %s", f)
		}
		seen[f] = true
	}
	if e := listFiles(l.errDir); len(e) != 0 {
		t.Errorf("error/: %v", e)
	}
	if a := listFiles(l.archive); len(a) != n {
		t.Errorf("archive has %d originals, want %d", len(a), n)
	}
	if left := listFiles(l.inbox); len(left) != 0 {
		t.Errorf("inbox: %v", left)
	}
	claims, _ := os.ReadDir(filepath.Join(l.inbox, ".signagent"))
	if len(claims) != 0 {
		t.Errorf("claim area not empty: %d entries", len(claims))
	}
	code, stdout, _ := runCmd(t, nil, "verify", filepath.Join(l.outbox, out[0]), filepath.Join(l.outbox, out[len(out)-1]))
	if code != 0 {
		t.Errorf("outputs do not verify:\n%s", stdout)
	}
	var st signagent.Status
	_, js, _ := runCmd(t, nil, "status", "--config", l.cfg, "--json")
	json.Unmarshal([]byte(js), &st)
	if got := st.Folders[0].Counts[signagent.StatePublished]; got != n {
		t.Errorf("ledger: %d published, want %d (%v)", got, n, st.Folders[0].Counts)
	}
}

// TestRunRefusesFoldersOnDifferentVolumes: claims and publication are
// renames, so the agent must not start when the outbox is elsewhere.
func TestRunRefusesFoldersOnDifferentVolumes(t *testing.T) {
	l := newLayout(t, "")
	shm, err := os.MkdirTemp("/dev/shm", "signagent-outbox-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(shm)
	var a, b syscallStat
	if statDev(shm, &a) != nil || statDev(l.inbox, &b) != nil || a.dev == b.dev {
		t.Skip("/dev/shm is on the same device as the temp dir here")
	}
	l.outbox = shm
	writeConfig(t, l, `listen = "off"`, "[backends.local]\ntype = \"local\"\n", "")
	code, _, stderr := runCmd(t, nil, "run", "--config", l.cfg)
	if code != exitUsage || !strings.Contains(stderr, "different volume") || !strings.Contains(stderr, "folders[0].outbox") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// ledgerCreated reports whether the agent has created and initialised its
// ledger.
func ledgerCreated(l *layout) bool {
	fi, err := os.Stat(filepath.Join(l.data, "ledger.db"))
	return err == nil && fi.Size() > 0
}
