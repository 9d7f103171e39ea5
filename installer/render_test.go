package installer

import (
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden (and etc/ samples) from the current output")

// sampleOptions is a typical server installation: a dedicated user, a
// company's four folders (one with a space and a '%'), a data directory.
func sampleOptions() Options {
	return Options{
		Config:     "/etc/signagent/config.toml",
		User:       "signagent",
		Executable: "/usr/local/bin/signagent",
		Folders: []string{
			"/srv/erp/export", "/srv/erp/signed", "/srv/erp/error", "/srv/erp/archive",
			"/srv/erp/Notas de crédito 100%", "/srv/erp/export", // duplicate: listed once
		},
		DataDir: "/var/lib/signagent",
	}
}

// homeOptions keeps everything under a user's home directory.
func homeOptions() Options {
	return Options{
		Config:     "/home/ana/.config/signagent/config.toml",
		Executable: "/home/ana/bin/signagent",
		Folders:    []string{"/home/ana/erp/in", "/home/ana/erp/out", "/home/ana/erp/error"},
		DataDir:    "/home/ana/.local/share/signagent",
	}
}

// golden compares got with testdata/name, rewriting it (and any extra
// copies, such as the etc/ samples) under -update.
func golden(t *testing.T, name, got string, copies ...string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		for _, p := range append([]string{path}, copies...) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range append([]string{path}, copies...) {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test ./installer -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("output differs from %s (run with -update if intended):\n--- got\n%s--- want\n%s", p, got, want)
		}
	}
}

func TestRenderSystemdUnitGolden(t *testing.T) {
	unit, err := RenderSystemdUnit(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signagent.service.golden", unit, filepath.Join("..", "etc", "signagent.service"))

	// The directives the service depends on, checked one by one so a golden
	// update cannot silently drop them.
	for _, want := range []string{
		"After=network-online.target remote-fs.target\n",
		"Wants=network-online.target\n",
		`RequiresMountsFor=/srv/erp/export /srv/erp/signed /srv/erp/error /srv/erp/archive "/srv/erp/Notas de crédito 100%%" /var/lib/signagent` + "\n",
		"Type=notify\n",
		"Restart=on-failure\n",
		`ExecStart="/usr/local/bin/signagent" run --config "/etc/signagent/config.toml"` + "\n",
		"ExecReload=/bin/kill -HUP $MAINPID\n",
		"TimeoutStopSec=15\n",
		"User=signagent\n",
		"NoNewPrivileges=yes\n",
		"ProtectSystem=strict\n",
		"ProtectHome=read-only\n",
		"PrivateTmp=yes\n",
		`ReadWritePaths=-/srv/erp/export -/srv/erp/signed -/srv/erp/error -/srv/erp/archive -"/srv/erp/Notas de crédito 100%%" /var/lib/signagent` + "\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}

	home, err := RenderSystemdUnit(homeOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "home.service.golden", home)
	if strings.Contains(home, "ProtectHome") {
		t.Error("folders under /home, yet the unit sets ProtectHome")
	}
	if strings.Contains(home, "User=") {
		t.Error("no user given, yet the unit sets User=")
	}
}

func TestRenderSystemdUnitQuoting(t *testing.T) {
	o := sampleOptions()
	o.Executable = `/opt/sign $agent/bin "x"/signagent`
	o.Config = `/etc/signagent/a%b.toml`
	unit, err := RenderSystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `ExecStart="/opt/sign $$agent/bin \"x\"/signagent" run --config "/etc/signagent/a%%b.toml"`
	if !strings.Contains(unit, want+"\n") {
		t.Errorf("ExecStart not escaped; want %s in\n%s", want, unit)
	}

	bad := sampleOptions()
	bad.Folders = append(bad.Folders, "/srv/evil\n[Service]\nExecStartPre=/bin/sh")
	if _, err := RenderSystemdUnit(bad); err == nil {
		t.Error("a folder with a line break was rendered into the unit")
	}
	rel := sampleOptions()
	rel.Config = "config.toml"
	_, err = RenderSystemdUnit(rel)
	if signagent.KindOf(err) != signagent.KindConfig || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("relative config: %v, want a configuration error", err)
	}
}

// TestSystemdAnalyzeVerify has systemd parse the unit: any complaint but
// the known note on the executable fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd); CI has it")
	}
	for name, o := range map[string]Options{"sample": sampleOptions(), "home": homeOptions()} {
		o.Executable = "/bin/true" // verify wants an existing executable
		unit, err := RenderSystemdUnit(o)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "signagent.service")
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: systemd-analyze verify: %v\n%s", name, err, out)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && strings.Contains(l, path) {
				t.Errorf("%s: systemd-analyze: %s", name, l)
			}
		}
	}
}

// TestSystemdExposure keeps the unit's sandbox tight: systemd's own
// assessment of the rendered unit must stay at most 2.5 (1.6 today; 7.7,
// EXPOSED, before the capability, device, namespace, /proc, address-family
// and system-call restrictions). Running as root keeps its capabilities.
func TestSystemdExposure(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd); CI has it")
	}
	unit, err := RenderSystemdUnit(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signagent.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Overall exposure level") {
		t.Skipf("systemd-analyze security --offline is not available here: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(m[1], 64); level > 2.5 {
		t.Errorf("exposure level %s, want at most 2.5:\n%s", m[1], out)
	}
	o := sampleOptions()
	o.User = ""
	root, err := RenderSystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(root, "CapabilityBoundingSet=") {
		t.Error("a unit running as root drops the capabilities root reads the folders with")
	}
}

// A folder under /tmp is invisible to a service with a private /tmp: the
// unit leaves PrivateTmp off then, and says why.
func TestFolderUnderTmpKeepsSharedTmp(t *testing.T) {
	o := sampleOptions()
	o.Folders = append(o.Folders, "/tmp/erp-drop")
	unit, err := RenderSystemdUnit(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(unit, "PrivateTmp=yes") || !strings.Contains(unit, "# PrivateTmp is off") {
		t.Errorf("unit with a folder under /tmp:\n%s", unit)
	}
	if unit, _ := RenderSystemdUnit(sampleOptions()); !strings.Contains(unit, "PrivateTmp=yes\n") {
		t.Error("the usual unit lost PrivateTmp")
	}
}

func TestRenderLaunchdPlistGolden(t *testing.T) {
	o := sampleOptions()
	o.Executable = "/usr/local/bin/signagent"
	o.Folders = []string{"/Users/Shared/erp & co/in"}
	plist, err := RenderLaunchdPlist(o)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signagent.plist.golden", plist, filepath.Join("..", "etc", "signagent.plist"))

	// Well-formed XML whose program arguments read back exactly.
	dec := xml.NewDecoder(strings.NewReader(plist))
	dec.Strict = true
	var args []string
	inArray := false
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("plist is not well-formed XML: %v", err)
			}
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if tk.Name.Local == "array" {
				inArray = true
			}
			if tk.Name.Local == "string" && inArray {
				var s string
				if err := dec.DecodeElement(&s, &tk); err != nil {
					t.Fatal(err)
				}
				args = append(args, s)
			}
		case xml.EndElement:
			if tk.Name.Local == "array" {
				inArray = false
			}
		}
	}
	want := []string{"/usr/local/bin/signagent", "run", "--config", "/etc/signagent/config.toml"}
	if strings.Join(args, "|") != strings.Join(want, "|") {
		t.Errorf("ProgramArguments = %q, want %q", args, want)
	}
	o.Config = "/etc/a&b<c>.toml"
	escaped, err := RenderLaunchdPlist(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(escaped, "<string>/etc/a&amp;b&lt;c&gt;.toml</string>") {
		t.Errorf("config path not XML-escaped:\n%s", escaped)
	}
}

func TestWindowsSettings(t *testing.T) {
	o := Options{
		Config:     `C:\ProgramData\signagent\config.toml`,
		Executable: `C:\Program Files\signagent\signagent.exe`,
		Folders:    []string{`\\erp01\export\invoices`},
		DataDir:    `C:\ProgramData\signagent`,
	}
	ws := WindowsSettings(o)
	if ws.Name != "signagent" || ws.EventSource != "signagent" {
		t.Errorf("name %q, event source %q", ws.Name, ws.EventSource)
	}
	if ws.StartType != "automatic" || !ws.DelayedAutoStart {
		t.Errorf("start %q delayed %v, want automatic (delayed)", ws.StartType, ws.DelayedAutoStart)
	}
	if ws.Account != "LocalSystem" {
		t.Errorf("account %q, want LocalSystem when no user is given", ws.Account)
	}
	if len(ws.Recovery) != 3 {
		t.Fatalf("%d recovery actions, want one per failure slot (3)", len(ws.Recovery))
	}
	for i, r := range ws.Recovery {
		if r.Action != "restart" || r.Delay <= 0 {
			t.Errorf("recovery slot %d = %+v, want a delayed restart", i, r)
		}
		if i > 0 && r.Delay < ws.Recovery[i-1].Delay {
			t.Errorf("recovery delays shrink: %v", ws.Recovery)
		}
	}
	if ws.ResetPeriod != 24*time.Hour || !ws.RecoveryOnNonCrashFailures {
		t.Errorf("reset %v, non-crash %v", ws.ResetPeriod, ws.RecoveryOnNonCrashFailures)
	}
	if want := []string{"run", "--config", `C:\ProgramData\signagent\config.toml`}; strings.Join(ws.Arguments, "|") != strings.Join(want, "|") {
		t.Errorf("arguments %q", ws.Arguments)
	}
	if ws.LogFile != `C:\ProgramData\signagent\logs\signagent.log` {
		t.Errorf("log file %q", ws.LogFile)
	}
	golden(t, "windows.golden", ws.String())
	if !strings.Contains(ws.String(), `"C:\Program Files\signagent\signagent.exe" run --config C:\ProgramData\signagent\config.toml`) {
		t.Errorf("command line not quoted for the SCM:\n%s", ws)
	}

	o.User = `CORP\svc-sign`
	o.Name = "signagent-acme"
	ws = WindowsSettings(o)
	if ws.Account != `CORP\svc-sign` || ws.EventSource != "signagent-acme" || !strings.HasSuffix(ws.DisplayName, "(signagent-acme)") {
		t.Errorf("named instance: %+v", ws)
	}
}

func TestCheckWindowsPath(t *testing.T) {
	drives := func(letter byte) driveKind {
		switch letter {
		case 'C', 'D':
			return driveLocal
		case 'Z':
			return driveRemote
		case 'Y':
			return driveMissing
		}
		return driveUnknown
	}
	for _, c := range []struct {
		path string
		ok   bool
		want string // part of the message or hint when rejected
	}{
		{`C:\erp\export`, true, ""},
		{`d:/erp/export`, true, ""},
		{`\\erp01\export\invoices`, true, ""},
		{`//erp01/export`, true, ""},
		{`\\?\UNC\erp01\export\in`, true, ""},
		{`\\?\C:\erp\in`, true, ""},
		{`Z:\export`, false, "mapped network drive Z:"},
		{`z:\export`, false, "UNC path"},
		{`Y:\export`, false, "does not exist for services"},
		{`\\?\Z:\export`, false, "mapped network drive"},
		{`\\erp01`, false, "not a complete UNC path"},
		{`\\erp01\`, false, "not a complete UNC path"},
		{`\\.\COM1`, false, "device path"},
		{`erp\export`, false, "not an absolute Windows path"},
		{`C:erp`, false, `C:\erp`},
		{`/srv/erp`, false, "not an absolute Windows path"},
		{``, false, "empty"},
	} {
		err := checkWindowsPath(c.path, drives)
		if c.ok {
			if err != nil {
				t.Errorf("%q rejected: %v", c.path, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q accepted, want rejection mentioning %q", c.path, c.want)
			continue
		}
		if signagent.KindOf(err) != signagent.KindConfig {
			t.Errorf("%q: kind %v, want configuration", c.path, signagent.KindOf(err))
		}
		if text := err.Error() + " " + signagent.HintOf(err); !strings.Contains(text, c.want) {
			t.Errorf("%q: %q does not mention %q", c.path, text, c.want)
		}
	}
	// Off Windows the exported function checks syntax only.
	if err := CheckWindowsPath(`Z:\export`); err != nil && os.PathSeparator == '/' {
		t.Errorf("CheckWindowsPath off Windows rejected a drive path: %v", err)
	}
}

func TestQuoteImagePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// What Wine's Windows Installer registers for the MSI's ServiceInstall.
		{`C:\Program Files\signagent\signagent.exe run --config "C:\ProgramData\signagent\config.toml"`,
			`"C:\Program Files\signagent\signagent.exe" run --config "C:\ProgramData\signagent\config.toml"`},
		{`C:\Program Files\signagent\SIGNAGENT.EXE`, `"C:\Program Files\signagent\SIGNAGENT.EXE"`},
		{`C:\Program Files\a.exe.d\signagent.exe run`, `"C:\Program Files\a.exe.d\signagent.exe" run`},
		// Already right, or nothing to quote: unchanged.
		{`"C:\Program Files\signagent\signagent.exe" run --config C:\ProgramData\signagent\config.toml`, ""},
		{`C:\signagent\signagent.exe run --config "C:\Program Data\config.toml"`, ""},
		{`C:\Program Files\signagent\signagent run`, ""},
		{``, ""},
	} {
		got, ok := quoteImagePath(c.in)
		if c.want == "" {
			if ok || got != c.in {
				t.Errorf("quoteImagePath(%s) = %s, %v; want it unchanged", c.in, got, ok)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("quoteImagePath(%s) = %s, %v; want %s", c.in, got, ok, c.want)
		}
	}
	// What Install registers itself is already quoted.
	ws := WindowsSettings(Options{Executable: `C:\Program Files\signagent\signagent.exe`, Config: `C:\ProgramData\signagent\config.toml`})
	if line := winCommandLine(append([]string{ws.Executable}, ws.Arguments...)); !strings.HasPrefix(line, `"C:\Program Files\signagent\signagent.exe" `) {
		t.Errorf("command line %s: executable not quoted", line)
	} else if _, ok := quoteImagePath(line); ok {
		t.Errorf("quoteImagePath would change %s", line)
	}
}

func TestWinCommandLine(t *testing.T) {
	got := winCommandLine([]string{`C:\Program Files\x.exe`, "run", `C:\a b\`, `say "hi"`, ""})
	want := `"C:\Program Files\x.exe" run "C:\a b\\" "say \"hi\"" ""`
	if got != want {
		t.Errorf("winCommandLine = %s, want %s", got, want)
	}
}
