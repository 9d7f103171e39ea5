package installer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/signagent/signagent"
)

// recorder stands in for systemctl/launchctl: it records each command and
// fails those listed in fail.
type recorder struct {
	cmds []string
	fail map[string]error
}

func (r *recorder) run(args ...string) error {
	c := strings.Join(args, " ")
	r.cmds = append(r.cmds, c)
	return r.fail[c]
}

func (r *recorder) take() []string {
	c := r.cmds
	r.cmds = nil
	return c
}

type testEnv struct {
	o       Options
	unitDir string
	rec     *recorder
	admin   bool
	out     *bytes.Buffer
	errOut  *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	root := t.TempDir()
	e := &testEnv{unitDir: filepath.Join(root, "units"), rec: &recorder{}, admin: true,
		out: new(bytes.Buffer), errOut: new(bytes.Buffer)}
	if err := os.Mkdir(e.unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.o = Options{
		Config:     filepath.Join(root, "data", "config.toml"),
		Executable: "/usr/local/bin/signagent",
		Folders:    []string{filepath.Join(root, "in"), filepath.Join(root, "out")},
		DataDir:    filepath.Join(root, "data"),
		Stdout:     e.out,
		Stderr:     e.errOut,
	}
	return e
}

// systemd returns the service as prepare builds it on Linux, pointed at the
// temporary unit directory and the recorder.
func (e *testEnv) systemd(t *testing.T) *fileService {
	t.Helper()
	unit, err := RenderSystemdUnit(e.o)
	if err != nil {
		t.Fatal(err)
	}
	return systemdService(e.o, e.unitDir, unit, e.rec.run, func() bool { return e.admin })
}

func (e *testEnv) output() string {
	s := e.out.String() + e.errOut.String()
	e.out.Reset()
	e.errOut.Reset()
	return s
}

func equalCmds(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s ran %q, want %q", what, got, want)
	}
}

func TestInstallSystemd(t *testing.T) {
	e := newTestEnv(t)
	unitPath := filepath.Join(e.unitDir, "signagent.service")

	if err := e.systemd(t).install(e.o); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := RenderSystemdUnit(e.o)
	if string(got) != want {
		t.Errorf("installed unit differs from RenderSystemdUnit")
	}
	if fi, _ := os.Stat(unitPath); fi.Mode().Perm() != 0o644 {
		t.Errorf("unit mode %v, want 0644", fi.Mode().Perm())
	}
	if fi, err := os.Stat(e.o.DataDir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("data dir not created 0750: %v %v", fi, err)
	}
	equalCmds(t, "install", e.rec.take(), "systemctl daemon-reload", "systemctl enable signagent.service")
	if out := e.output(); !strings.Contains(out, "installed "+unitPath) || !strings.Contains(out, "signagent start --config "+e.o.Config) {
		t.Errorf("install output lacks result or next step:\n%s", out)
	}

	// Re-run: nothing rewritten, said so.
	before, _ := os.Stat(unitPath)
	if err := e.systemd(t).install(e.o); err != nil {
		t.Fatal(err)
	}
	if out := e.output(); !strings.Contains(out, "already installed") {
		t.Errorf("re-run output %q, want \"already installed\"", out)
	}
	if after, _ := os.Stat(unitPath); !after.ModTime().Equal(before.ModTime()) {
		t.Error("re-run rewrote an identical unit")
	}
	e.rec.take()

	// Changed folders: the unit is updated and reloaded, with a hint to restart.
	e.o.Folders = append(e.o.Folders, filepath.Join(filepath.Dir(e.o.DataDir), "archive"))
	if err := e.systemd(t).install(e.o); err != nil {
		t.Fatal(err)
	}
	if out := e.output(); !strings.Contains(out, "updated "+unitPath) || !strings.Contains(out, "signagent restart") {
		t.Errorf("update output %q", out)
	}
	if got, _ := os.ReadFile(unitPath); !strings.Contains(string(got), "archive") {
		t.Error("updated unit lacks the new folder")
	}
	equalCmds(t, "update", e.rec.take(), "systemctl daemon-reload", "systemctl enable signagent.service")
	if tmp, _ := filepath.Glob(filepath.Join(e.unitDir, ".*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Start, stop and restart go through systemctl.
	for _, action := range []string{"start", "stop", "restart"} {
		if err := e.systemd(t).control(e.o, action); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		equalCmds(t, action, e.rec.take(), "systemctl "+action+" signagent.service")
	}
	if out := e.output(); !strings.Contains(out, "stopped: signagent") {
		t.Errorf("control output %q", out)
	}

	// A failing systemctl surfaces its output.
	e.rec.fail = map[string]error{"systemctl start signagent.service": errors.New("exit status 1: Job failed")}
	if err := e.systemd(t).control(e.o, "start"); err == nil || !strings.Contains(err.Error(), "Job failed") {
		t.Errorf("failing start: %v", err)
	}
}

func TestInstallNeedsAdmin(t *testing.T) {
	e := newTestEnv(t)
	e.admin = false
	err := e.systemd(t).install(e.o)
	if err == nil {
		t.Fatal("install without rights succeeded")
	}
	if !strings.Contains(err.Error(), "needs administrator rights") || signagent.HintOf(err) != "re-run with sudo" {
		t.Errorf("error %v, hint %q", err, signagent.HintOf(err))
	}
	if entries, _ := os.ReadDir(e.unitDir); len(entries) != 0 {
		t.Errorf("files written without rights: %v", entries)
	}
	if _, err := os.Stat(e.o.DataDir); err == nil {
		t.Error("data dir created without rights")
	}
	if len(e.rec.cmds) != 0 {
		t.Errorf("commands run without rights: %v", e.rec.cmds)
	}

	// Rights refused by the file system say the same.
	e.admin = true
	if os.Geteuid() == 0 {
		return // root writes anywhere
	}
	if err := os.Chmod(e.unitDir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(e.unitDir, 0o755)
	err = e.systemd(t).install(e.o)
	if err == nil || !strings.Contains(err.Error(), "needs administrator rights") {
		t.Errorf("read-only unit dir: %v", err)
	}
}

func TestInstallDryRun(t *testing.T) {
	e := newTestEnv(t)
	e.o.DryRun = true
	e.o.User = "signagent"
	if err := e.systemd(t).install(e.o); err != nil {
		t.Fatal(err)
	}
	unit, _ := RenderSystemdUnit(e.o)
	want := "would write " + filepath.Join(e.unitDir, "signagent.service") + ":\n" + unit +
		"would run: systemctl daemon-reload\n" +
		"would run: systemctl enable signagent.service\n" +
		"would create " + e.o.DataDir + " (owner signagent, mode 0750)\n"
	if got := e.output(); got != want {
		t.Errorf("dry run printed:\n%s\nwant:\n%s", got, want)
	}
	if entries, _ := os.ReadDir(e.unitDir); len(entries) != 0 {
		t.Errorf("dry run wrote %v", entries)
	}
	if _, err := os.Stat(e.o.DataDir); err == nil {
		t.Error("dry run created the data dir")
	}
	if len(e.rec.cmds) != 0 {
		t.Errorf("dry run ran %v", e.rec.cmds)
	}
}

func TestInstallUnknownUser(t *testing.T) {
	e := newTestEnv(t)
	e.o.User = "no-such-user-for-signagent"
	err := e.systemd(t).install(e.o)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(signagent.HintOf(err), "useradd") {
		t.Errorf("unknown user: %v (hint %q)", err, signagent.HintOf(err))
	}
}

func TestUninstallKeepsDataUnlessPurge(t *testing.T) {
	e := newTestEnv(t)
	if err := e.systemd(t).install(e.o); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(e.o.DataDir, "ledger.db")
	for _, f := range []string{ledger, e.o.Config} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.rec.take()
	e.output()

	if err := e.systemd(t).uninstall(e.o); err != nil {
		t.Fatal(err)
	}
	equalCmds(t, "uninstall", e.rec.take(), "systemctl disable --now signagent.service", "systemctl daemon-reload")
	if _, err := os.Stat(filepath.Join(e.unitDir, "signagent.service")); !errors.Is(err, os.ErrNotExist) {
		t.Error("unit still present after uninstall")
	}
	if _, err := os.Stat(ledger); err != nil {
		t.Errorf("uninstall without purge removed the ledger: %v", err)
	}
	if out := e.output(); !strings.Contains(out, "uninstalled") || !strings.Contains(out, "kept "+e.o.DataDir) {
		t.Errorf("uninstall output %q", out)
	}

	// Again: nothing to do, still fine.
	if err := e.systemd(t).uninstall(e.o); err != nil {
		t.Fatal(err)
	}
	if out := e.output(); !strings.Contains(out, "not installed") {
		t.Errorf("second uninstall output %q", out)
	}
	if err := e.systemd(t).control(e.o, "start"); signagent.KindOf(err) != signagent.KindConfig || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("start when not installed: %v", err)
	}

	// Purge removes the ledger but keeps the configuration file beside it.
	e.o.Purge = true
	if err := e.systemd(t).uninstall(e.o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ledger); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("purge kept the ledger: %v", err)
	}
	if _, err := os.Stat(e.o.Config); err != nil {
		t.Errorf("purge removed the configuration file: %v", err)
	}
}

func TestPurgeNeverTouchesFolders(t *testing.T) {
	e := newTestEnv(t)
	e.o.Purge = true
	e.o.Folders = append(e.o.Folders, filepath.Join(e.o.DataDir, "inbox"))
	doc := filepath.Join(e.o.DataDir, "inbox", "invoice.pdf")
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("%PDF-1.7"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := e.systemd(t).uninstall(e.o)
	if err == nil || !strings.Contains(err.Error(), "refusing to purge") {
		t.Errorf("purge over a folder: %v", err)
	}
	if _, err := os.Stat(doc); err != nil {
		t.Fatalf("purge deleted a document: %v", err)
	}
}

func TestLaunchdService(t *testing.T) {
	e := newTestEnv(t)
	plist, err := RenderLaunchdPlist(e.o)
	if err != nil {
		t.Fatal(err)
	}
	s := launchdService(e.o, e.unitDir, plist, e.rec.run, func() bool { return true })
	if err := s.install(e.o); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(e.o.DataDir, "logs")); err != nil || !fi.IsDir() {
		t.Errorf("log dir for StandardOutPath not created: %v", err)
	}
	equalCmds(t, "install", e.rec.take(), "launchctl enable system/signagent")
	p := filepath.Join(e.unitDir, "signagent.plist")
	e.rec.fail = map[string]error{"launchctl bootstrap system " + p: errors.New("already loaded")}
	if err := s.control(e.o, "start"); err != nil {
		t.Fatalf("start with the job already loaded: %v", err)
	}
	equalCmds(t, "start", e.rec.take(), "launchctl bootstrap system "+p, "launchctl kickstart system/signagent")
	if !strings.Contains(e.errOut.String(), "warning:") {
		t.Errorf("tolerated failure not reported: %q", e.errOut.String())
	}
}

func TestResolveDefaults(t *testing.T) {
	o, err := Options{Config: "/etc/signagent/config.toml"}.resolve(filepath.IsAbs)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(o.Executable) {
		t.Errorf("default executable %q is not absolute", o.Executable)
	}
	if _, err := (Options{Config: "/c.toml", Name: "sign agent"}).resolve(filepath.IsAbs); err == nil {
		t.Error("a service name with a space was accepted")
	}
	if _, err := (Options{Config: "/c.toml", Folders: []string{"in"}}).resolve(filepath.IsAbs); err == nil {
		t.Error("a relative folder was accepted")
	}
}

func TestInstallDryRunExported(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the Linux unit path")
	}
	var out bytes.Buffer
	o := sampleOptions()
	o.DryRun, o.Stdout = true, &out
	if err := Install(o); err != nil {
		t.Fatal(err)
	}
	unit, _ := RenderSystemdUnit(o)
	if !strings.HasPrefix(out.String(), "would write /etc/systemd/system/signagent.service:\n"+unit) {
		t.Errorf("Install dry run printed:\n%s", out.String())
	}
	out.Reset()
	o.Purge = true
	o.DataDir = t.TempDir()
	if err := Uninstall(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.DataDir); err != nil {
		t.Errorf("dry-run purge removed the data dir: %v", err)
	}
	if !strings.Contains(out.String(), "would remove "+o.DataDir) {
		t.Errorf("dry-run uninstall printed:\n%s", out.String())
	}
}
