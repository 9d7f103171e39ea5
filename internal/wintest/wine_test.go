//go:build wine

package wintest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	signagentExe = flag.String("signagent", "", "the Windows build of signagent")
	producerExe  = flag.String("producer", "", "the Windows build of ./producer")
)

// drive is C:\ of the Wine prefix, seen from Linux.
func drive(t *testing.T) string {
	t.Helper()
	if *signagentExe == "" {
		t.Skip("-signagent not given: run make test-windows")
	}
	p := os.Getenv("WINEPREFIX")
	if p == "" {
		t.Fatal("WINEPREFIX is not set")
	}
	return filepath.Join(p, "drive_c")
}

// wine runs a Windows program. The first Windows program to run starts
// Wine's system processes (services.exe, …), which inherit its output
// pipes and outlive it: WaitDelay keeps Wait from waiting for them.
func wine(args ...string) *exec.Cmd {
	c := exec.Command("wine64", args...)
	c.WaitDelay = 2 * time.Second
	return c
}

// output runs a Windows program to its end and returns what it printed.
func output(args ...string) (string, error) {
	out, err := wine(args...).CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it succeeded; a system process kept the pipe open
	}
	return string(out), err
}

// site is one agent's folders under C:\NAME, with their Linux paths.
type site struct {
	t                                    *testing.T
	name, root, cfg, addr                string
	inbox, outbox, errDir, archive, data string
}

func newSite(t *testing.T, name string, extra string) *site {
	root := filepath.Join(drive(t), name)
	os.RemoveAll(root)
	s := &site{t: t, name: name, root: root, addr: freeAddr(t)}
	s.inbox, s.outbox, s.errDir = filepath.Join(root, "inbox"), filepath.Join(root, "outbox"), filepath.Join(root, "error")
	s.archive, s.data = filepath.Join(root, "archive"), filepath.Join(root, "data")
	for _, d := range []string{s.inbox, s.outbox, s.errDir, s.archive, s.data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	win := `C:\` + name
	cfg := fmt.Sprintf(`data_dir = '%[1]s\data'
listen = %[2]q

[backends.local]
type = "local"
certificate = "dev"

[[folders]]
name = "invoices"
inbox = '%[1]s\inbox'
outbox = '%[1]s\outbox'
error = '%[1]s\error'
archive = '%[1]s\archive'
include = ["*.pdf", "*.xml"]
backend = "local"
settle = "500ms"
max_wait = "1s"
max_files = 4
%[3]s
`, win, s.addr, extra)
	s.cfg = win + `\config.toml`
	if err := os.WriteFile(filepath.Join(root, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// agent is signagent.exe run in the foreground.
type agent struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func (s *site) start() *agent {
	a := &agent{cmd: wine(*signagentExe, "run", "--config", s.cfg), log: &bytes.Buffer{}}
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
	s.waitHealthy(a)
	return a
}

func (s *site) waitHealthy(a *agent) {
	s.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if healthz(s.addr) == http.StatusOK {
			return
		}
	}
	s.t.Fatalf("agent not healthy after 60s; log:\n%s", a.log)
}

func healthz(addr string) int {
	c := http.Client{Timeout: 2 * time.Second}
	r, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0
	}
	r.Body.Close()
	return r.StatusCode
}

// watchHealth polls /healthz until stop is called and returns every answer
// other than 200 (0: no answer) seen while up is true.
func watchHealth(addr string, up func() bool) (stop func() []string) {
	var (
		mu  sync.Mutex
		bad []string
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(250 * time.Millisecond):
			}
			if !up() {
				continue
			}
			if code := healthz(addr); code != http.StatusOK && up() {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s: %d", time.Now().Format("15:04:05.000"), code))
				mu.Unlock()
			}
		}
	}()
	return func() []string { close(done); wg.Wait(); return bad }
}

func (a *agent) kill(t *testing.T) {
	a.cmd.Process.Kill()
	a.cmd.Wait()
}

// stop asks the agent to drain and exit, as a console Ctrl+C would.
func (a *agent) stop() {
	a.cmd.Process.Kill()
	a.cmd.Wait()
}

func corpus(t *testing.T, ext string, n int) []string {
	t.Helper()
	var out []string
	filepath.Walk("../../testdata/corpus", func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ext) && len(out) < n {
			out = append(out, p)
		}
		return nil
	})
	if len(out) < n {
		t.Fatalf("want %d %s files in testdata/corpus, found %d", n, ext, len(out))
	}
	return out
}

// drop writes src into the inbox under name, by a temp name and a rename,
// as the README asks of producers.
func (s *site) drop(src, name string) {
	s.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		s.t.Fatal(err)
	}
	s.dropBytes(b, name)
}

func (s *site) dropBytes(b []byte, name string) {
	s.t.Helper()
	tmp := filepath.Join(s.inbox, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.inbox, name)); err != nil {
		s.t.Fatal(err)
	}
}

// files lists the files under dir, relative and sorted, without the
// agent's temp files (.signagent-*.partial), which are not outputs.
func files(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !(strings.HasPrefix(fi.Name(), ".signagent-") && strings.HasSuffix(fi.Name(), ".partial")) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// inboxLeft lists the inbox's documents, the claim area included.
func (s *site) inboxLeft() []string {
	var out []string
	for _, f := range files(s.inbox) {
		if strings.HasPrefix(f, ".signagent/") && !strings.HasSuffix(f, ".pdf") && !strings.HasSuffix(f, ".xml") {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (s *site) waitFor(what string, a *agent, cond func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if cond() {
			return
		}
	}
	log := ""
	if a != nil {
		log = a.log.String()
	}
	s.t.Fatalf("timed out waiting for %s\ninbox %v\noutbox %v\nerror %v\nlog:\n%s", what, s.inboxLeft(), files(s.outbox), files(s.errDir), log)
}

func pdfsigValid(t *testing.T, p string) {
	t.Helper()
	out, err := exec.Command("pdfsig", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") {
		t.Errorf("pdfsig %s: %v\n%s", filepath.Base(p), err, out)
	}
}

func xmlsecValid(t *testing.T, ca, p string) {
	t.Helper()
	out, err := exec.Command("xmlsec1", "--verify", "--trusted-pem", ca,
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", p).CombinedOutput()
	if err != nil {
		t.Errorf("xmlsec1 %s: %v\n%s", filepath.Base(p), err, out)
	}
}

// TestEndToEnd: the agent under Wine signs PDFs and XML dropped into C:\
// folders, publishes and archives them, sends bad ones to error\ with their
// error file, survives a kill in the middle of a batch, and answers
// /healthz 200 whenever it runs.
func TestEndToEnd(t *testing.T) {
	s := newSite(t, "sa-e2e", "")
	var running sync.Mutex
	isUp := true
	up := func() bool { running.Lock(); defer running.Unlock(); return isUp }
	setUp := func(v bool) { running.Lock(); isUp = v; running.Unlock() }

	a := s.start()
	stopWatch := watchHealth(s.addr, up)

	pdfs, xmls := corpus(t, ".pdf", 30), corpus(t, ".xml", 8)
	want := map[string]bool{}
	for i, p := range pdfs[:6] {
		name := fmt.Sprintf("r1-%02d.pdf", i)
		s.drop(p, name)
		want[name] = true
	}
	for i, p := range xmls[:2] {
		name := fmt.Sprintf("r1-%02d.xml", i)
		s.drop(p, name)
		want[name] = true
	}
	s.dropBytes([]byte("this is not a PDF"), "bad-not-a-pdf.pdf")
	s.dropBytes([]byte("<unclosed"), "bad-not-xml.xml")
	bad := []string{"bad-not-a-pdf.pdf", "bad-not-xml.xml"}
	s.waitFor("the first round", a, func() bool {
		return len(files(s.outbox)) == len(want) && len(files(s.errDir)) == 2*len(bad)
	})

	// Second round: kill the agent once some documents are claimed and
	// before all are published. Enough documents (30, in batches of 4)
	// that the claim area stays busy for a while, and a close look at it:
	// the agent publishes a small batch quickly.
	for i, p := range append(pdfs[6:], xmls[2:]...) {
		name := fmt.Sprintf("r2-%02d%s", i, filepath.Ext(p))
		s.drop(p, name)
		want[name] = true
	}
	claimed := false
	for deadline := time.Now().Add(3 * time.Minute); !claimed && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		claimed = len(files(filepath.Join(s.inbox, ".signagent"))) > 0
	}
	if !claimed {
		t.Fatalf("no claim of the second round seen\noutbox %v\nlog:\n%s", files(s.outbox), a.log)
	}
	setUp(false)
	a.kill(t)
	killedAt := len(files(s.outbox))
	a = s.start()
	setUp(true)
	s.waitFor("every document after the restart", a, func() bool {
		return len(files(s.outbox)) == len(want) && len(s.inboxLeft()) == 0
	})
	time.Sleep(time.Second)
	setUp(false)
	a.stop()
	if bad := stopWatch(); len(bad) > 0 {
		t.Errorf("/healthz not 200 while running: %v", bad)
	}
	t.Logf("killed with %d of %d outputs published; all %d published after the restart", killedAt, len(want), len(want))

	// Every document exactly once in outbox and archive, nothing left.
	got := files(s.outbox)
	if len(got) != len(want) {
		t.Errorf("outbox %v, want the %d documents once each", got, len(want))
	}
	for _, f := range got {
		if !want[f] {
			t.Errorf("unexpected output %s", f)
		}
	}
	var archived []string
	for _, f := range files(s.archive) {
		archived = append(archived, filepath.Base(f))
	}
	sort.Strings(archived)
	if len(archived) != len(want) {
		t.Errorf("archive %v, want %d originals", archived, len(want))
	}
	if left := s.inboxLeft(); len(left) > 0 {
		t.Errorf("left in the inbox: %v", left)
	}

	// Error files.
	for _, name := range bad {
		var ef struct{ File, Code, Message string }
		b, err := os.ReadFile(filepath.Join(s.errDir, name+".error.json"))
		if err == nil {
			err = json.Unmarshal(b, &ef)
		}
		if err != nil || ef.Code == "" {
			t.Errorf("%s: error file %v %s", name, err, b)
			continue
		}
		if _, err := os.Stat(filepath.Join(s.errDir, name)); err != nil {
			t.Errorf("%s: original not in error/: %v", name, err)
		}
		t.Logf("%s: %s", name, ef.Code)
	}

	// Independent verifiers, on Linux.
	ca := filepath.Join(s.data, "dev", "ca.pem")
	for _, f := range got {
		p := filepath.Join(s.outbox, f)
		if strings.HasSuffix(f, ".pdf") {
			pdfsigValid(t, p)
		} else {
			xmlsecValid(t, ca, p)
		}
	}
}

// TestFileSemantics: Windows behaviours the Linux tests cannot show.
//   - A producer holding its file open without FILE_SHARE_DELETE: the file
//     waits in the inbox (not claimed, not failed, not copied half written)
//     and is signed once the producer closes it.
//   - Names that differ only in case are the same name: Invoice.pdf
//     published beside an existing invoice.pdf becomes "Invoice (1).pdf".
//   - An input with the read-only attribute is signed and archived.
func TestFileSemantics(t *testing.T) {
	if *producerExe == "" {
		t.Skip("-producer not given: run make test-windows")
	}
	s := newSite(t, "sa-files", "")
	a := s.start()
	stopWatch := watchHealth(s.addr, func() bool { return true })
	pdfs := corpus(t, ".pdf", 3)

	// The held file.
	release := filepath.Join(s.root, "release")
	prod := wine(*producerExe, `..\..\testdata\corpus\`+strings.ReplaceAll(strings.TrimPrefix(pdfs[0], "../../testdata/corpus/"), "/", `\`),
		`C:\sa-files\inbox\held.pdf`, `C:\sa-files\release`)
	var prodOut bytes.Buffer
	prod.Stdout, prod.Stderr = &prodOut, &prodOut
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Process.Kill(); prod.Wait() })
	s.waitFor("the producer to hold its file", a, func() bool { return strings.Contains(prodOut.String(), "holding") })

	// Case and read-only, meanwhile.
	if err := os.WriteFile(filepath.Join(s.outbox, "invoice.pdf"), []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.drop(pdfs[1], "Invoice.pdf")
	b, _ := os.ReadFile(pdfs[2])
	tmp := filepath.Join(s.inbox, ".ro.tmp")
	if err := os.WriteFile(tmp, b, 0o444); err != nil { // Wine shows 0444 as FILE_ATTRIBUTE_READONLY
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.inbox, "readonly.pdf")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("Invoice.pdf and readonly.pdf", a, func() bool { return len(files(s.outbox)) == 3 })
	time.Sleep(3 * time.Second) // many settle periods with the producer still holding its file
	if _, err := os.Stat(filepath.Join(s.inbox, "held.pdf")); err != nil {
		t.Errorf("held.pdf left the inbox while its producer held it: %v\nlog:\n%s", err, a.log)
	}
	if got := files(s.errDir); len(got) > 0 {
		t.Errorf("error folder while the producer held its file: %v", got)
	}
	if got := files(filepath.Join(s.inbox, ".signagent")); len(got) > 0 {
		t.Logf("claim area while held: %v", got)
	}

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prod.Wait(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("producer: %v\n%s", err, prodOut.String())
	}
	s.waitFor("held.pdf once released", a, func() bool {
		_, err := os.Stat(filepath.Join(s.outbox, "held.pdf"))
		return err == nil && len(s.inboxLeft()) == 0
	})
	if bad := stopWatch(); len(bad) > 0 {
		t.Errorf("/healthz not 200: %v", bad)
	}
	a.stop()

	want := []string{"Invoice (1).pdf", "held.pdf", "invoice.pdf", "readonly.pdf"}
	if got := files(s.outbox); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("outbox %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(s.outbox, "invoice.pdf")); string(b) != "someone else's" {
		t.Errorf("invoice.pdf was replaced by Invoice.pdf's output")
	}
	for _, f := range []string{"Invoice (1).pdf", "held.pdf", "readonly.pdf"} {
		pdfsigValid(t, filepath.Join(s.outbox, f))
	}
	// The archived original is the whole file, not the half the producer
	// had written while it held it.
	src, _ := os.ReadFile(pdfs[0])
	var archived []byte
	for _, f := range files(s.archive) {
		if filepath.Base(f) == "held.pdf" {
			archived, _ = os.ReadFile(filepath.Join(s.archive, f))
		}
	}
	if !bytes.Equal(archived, src) {
		t.Errorf("archived held.pdf has %d bytes, the producer wrote %d", len(archived), len(src))
	}
}

// TestWindowsNames: names Win32 cannot address by their plain path, which
// reach an inbox from \\?\ paths, Unix clients of a share or (here) Linux.
// By its plain path CON.pdf is the console, COM1.pdf a serial port, and
// "dot.pdf." is dot.pdf, another document. None may be opened that way: each
// goes, untouched, to error\ as RESERVED_NAME under a name Windows can
// address, its error file naming the original; dot.pdf beside "dot.pdf." is
// signed as itself; the agent stays healthy.
func TestWindowsNames(t *testing.T) {
	s := newSite(t, "sa-names", "")
	cfg := filepath.Join(s.root, "config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`include = ["*.pdf", "*.xml"]`), []byte(`include = ["*.pdf", "*.xml", "*.pdf.", "*.pdf "]`), 1)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pdfs, xmls := corpus(t, ".pdf", 3), corpus(t, ".xml", 1)
	// stored name in error\ → original name and content.
	reserved := map[string]struct{ name, src string }{
		"_CON.pdf":   {"CON.pdf", pdfs[0]},
		"_nul.xml":   {"nul.xml", xmls[0]},
		"_COM1.pdf":  {"COM1.pdf", pdfs[0]},
		"dot.pdf_":   {"dot.pdf.", pdfs[1]},
		"space.pdf_": {"space.pdf ", pdfs[0]},
	}
	for _, r := range reserved {
		s.drop(r.src, r.name)
	}
	s.drop(pdfs[2], "dot.pdf")
	s.drop(pdfs[0], "normal.pdf")

	a := s.start()
	stopWatch := watchHealth(s.addr, func() bool { return true })
	s.waitFor("every document published or failed", a, func() bool {
		return len(s.inboxLeft()) == 0 && len(files(s.outbox)) == 2 && len(files(s.errDir)) == 2*len(reserved)
	})
	if bad := stopWatch(); len(bad) > 0 {
		t.Errorf("/healthz not 200: %v", bad)
	}
	a.stop()

	if got, want := strings.Join(files(s.outbox), "|"), "dot.pdf|normal.pdf"; got != want {
		t.Errorf("outbox %q, want %q", got, want)
	}
	for _, f := range files(s.outbox) {
		pdfsigValid(t, filepath.Join(s.outbox, f))
	}
	// dot.pdf's archived original is dot.pdf's content, not "dot.pdf."'s.
	want, _ := os.ReadFile(pdfs[2])
	for _, f := range files(s.archive) {
		if filepath.Base(f) == "dot.pdf" {
			if got, _ := os.ReadFile(filepath.Join(s.archive, f)); !bytes.Equal(got, want) {
				t.Errorf("archived dot.pdf is not the document dropped as dot.pdf")
			}
		}
	}
	for stored, r := range reserved {
		got, err := os.ReadFile(filepath.Join(s.errDir, stored))
		src, _ := os.ReadFile(r.src)
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("%q: not in error\\ as %q, unchanged: %v", r.name, stored, err)
		}
		var ef struct {
			File     string `json:"file"`
			StoredAs string `json:"stored_as"`
			Code     string `json:"code"`
			Message  string `json:"message"`
		}
		b, err := os.ReadFile(filepath.Join(s.errDir, stored+".error.json"))
		if err == nil {
			err = json.Unmarshal(b, &ef)
		}
		if err != nil || ef.Code != "RESERVED_NAME" || ef.File != r.name || ef.StoredAs != stored {
			t.Errorf("%q: error file %v %s", r.name, err, b)
			continue
		}
		t.Logf("%q → error\\%s: %s", r.name, stored, ef.Message)
	}
}

// TestService: install → start (sc query: RUNNING) → a dropped document is
// signed by the service → stop → uninstall. Under Wine's service manager,
// which lacks two ChangeServiceConfig2 levels, install must succeed and
// name what it could not set. The service writes to the Event Log all
// along; that must not break it.
func TestService(t *testing.T) {
	s := newSite(t, "sa-svc", "")
	exe := filepath.Join(s.root, "signagent.exe")
	b, err := os.ReadFile(*signagentExe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		return output(append([]string{`C:\sa-svc\signagent.exe`}, args...)...)
	}
	query := func() string {
		out, _ := output("sc", "query", "signagent")
		return out
	}
	// Wine ends its service manager, and the services, a few seconds after
	// the last ordinary process exits; one stays alive for the test.
	keep := wine("ping", "-n", "600", "127.0.0.1")
	if err := keep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keep.Process.Kill(); keep.Wait() })
	run("uninstall", "--config", s.cfg) // a leftover of an earlier run
	t.Cleanup(func() { run("uninstall", "--config", s.cfg) })

	out, err := run("install", "--config", s.cfg)
	if err != nil || !strings.Contains(out, "installed service signagent") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	t.Logf("install:\n%s", out)
	if out, err := run("start", "--config", s.cfg); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	var q string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if q = query(); strings.Contains(q, "RUNNING") {
			break
		}
	}
	if !strings.Contains(q, "RUNNING") {
		t.Fatalf("sc query after start:\n%s", q)
	}
	s.waitHealthy(&agent{log: &bytes.Buffer{}})

	s.drop(corpus(t, ".pdf", 1)[0], "by-service.pdf")
	s.waitFor("the service to sign by-service.pdf", nil, func() bool {
		return len(files(s.outbox)) == 1 && len(files(s.archive)) == 1
	})
	pdfsigValid(t, filepath.Join(s.outbox, "by-service.pdf"))
	if code := healthz(s.addr); code != http.StatusOK {
		t.Errorf("/healthz %d after signing", code)
	}
	if q := query(); !strings.Contains(q, "RUNNING") {
		t.Errorf("not running after signing:\n%s", q)
	}

	// Reload: a second folder added to the configuration; `signagent
	// reload` asks the service through the service manager (a parameter
	// change), and the service signs in the new folder without a restart.
	more := filepath.Join(s.root, "more")
	for _, d := range []string{"inbox", "outbox", "error", "archive"} {
		if err := os.MkdirAll(filepath.Join(more, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(s.root, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, `
[[folders]]
name = "more"
inbox = 'C:\sa-svc\more\inbox'
outbox = 'C:\sa-svc\more\outbox'
error = 'C:\sa-svc\more\error'
archive = 'C:\sa-svc\more\archive'
include = ["*.pdf"]
backend = "local"
settle = "500ms"
max_wait = "1s"
`)
	f.Close()
	if out, err := run("reload", "--config", s.cfg); err != nil || !strings.Contains(out, "asked the agent") {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	b, err = os.ReadFile(corpus(t, ".pdf", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(more, "inbox", ".after-reload.tmp"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(more, "inbox", ".after-reload.tmp"), filepath.Join(more, "inbox", "after-reload.pdf")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the reloaded service to sign in the new folder", nil, func() bool {
		_, err := os.Stat(filepath.Join(more, "outbox", "after-reload.pdf")) // placed by a rename: whole once there
		return err == nil
	})
	pdfsigValid(t, filepath.Join(more, "outbox", "after-reload.pdf"))
	if q := query(); !strings.Contains(q, "RUNNING") {
		t.Errorf("not running after the reload:\n%s", q)
	}
	if code := healthz(s.addr); code != http.StatusOK {
		t.Errorf("/healthz %d after the reload", code)
	}

	if out, err := run("stop", "--config", s.cfg); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	if q := query(); !strings.Contains(q, "STOPPED") {
		t.Errorf("sc query after stop:\n%s", q)
	}
	if out, err := run("uninstall", "--config", s.cfg); err != nil || !strings.Contains(out, "uninstalled service signagent") {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if q := query(); strings.Contains(q, "SERVICE_NAME") {
		t.Errorf("sc query after uninstall:\n%s", q)
	}
}
