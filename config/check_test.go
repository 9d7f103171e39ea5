package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// layout writes a config with one folder set under root (directories
// created unless listed in missing) and returns it parsed.
func layout(t *testing.T, root, extra, folderExtra string, missing ...string) *Config {
	t.Helper()
	for _, d := range []string{"in", "out", "err", "arc"} {
		skip := false
		for _, m := range missing {
			skip = skip || m == d
		}
		if !skip {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	src := `data_dir = "state"
` + extra + `
[[folders]]
name = "a"
inbox = "in"
outbox = "out"
error = "err"
archive = "arc"
` + folderExtra
	path := filepath.Join(root, "config.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestCheckCleanLayout(t *testing.T) {
	c := layout(t, t.TempDir(), "", "")
	if ps := c.Check(); len(ps) != 0 {
		t.Errorf("clean layout has problems:\n%v", Problems(ps))
	}
	// The write probe leaves nothing behind.
	for _, d := range []string{c.Folders[0].Inbox, c.Folders[0].Outbox} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s is not empty after Check: %v", d, ents)
		}
	}
	if _, err := os.Stat(c.DataDir); !os.IsNotExist(err) {
		t.Errorf("Check created data_dir (%v)", err)
	}
}

func TestCheckMissingFolders(t *testing.T) {
	root := t.TempDir()
	c := layout(t, root, "", "", "out", "arc")
	ps := c.Check()
	for _, tt := range []struct{ key, dir string }{
		{"folders[0].outbox", "out"},
		{"folders[0].archive", "arc"},
	} {
		p, ok := find(ps, tt.key)
		dir := filepath.Join(root, tt.dir)
		if !ok || p.Warning || !strings.Contains(p.Message, dir+" does not exist") || !strings.Contains(p.Hint, "mkdir") || p.Line == 0 {
			t.Errorf("want %s missing with a mkdir hint, got %+v", tt.key, p)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Check created %s", dir)
		}
	}
	if len(ps) != 2 {
		t.Errorf("%d problems, want 2:\n%v", len(ps), Problems(ps))
	}
}

func TestCheckNotADirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "state"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := layout(t, root, "", "", "err")
	if err := os.WriteFile(filepath.Join(root, "err"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := c.Check()
	for _, key := range []string{"data_dir", "folders[0].error"} {
		if p, ok := find(ps, key); !ok || !strings.Contains(p.Message, "not a directory") {
			t.Errorf("%s: want not a directory, got %+v", key, p)
		}
	}
}

func TestCheckUnwritable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("skipping: mode bits do not stop root (or Windows) from writing")
	}
	root := t.TempDir()
	c := layout(t, root, "", "")
	out := filepath.Join(root, "out")
	if err := os.Chmod(out, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(out, 0o755)
	p, ok := find(c.Check(), "folders[0].outbox")
	if !ok || !strings.Contains(p.Message, "cannot create files") {
		t.Errorf("want outbox not writable, got %+v", p)
	}
}

func TestCheckDifferentVolumes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("skipping: needs two Unix mounts")
	}
	other := "/dev/shm"
	root := t.TempDir()
	a, errA := volumeID(other)
	b, errB := volumeID(root)
	if errA != nil || errB != nil || a == b {
		t.Skipf("skipping: %s and %s are not on two volumes here", other, root)
	}
	outbox, err := os.MkdirTemp(other, "signagent-config-test-")
	if err != nil {
		t.Skipf("skipping: cannot write in %s: %v", other, err)
	}
	t.Cleanup(func() { os.RemoveAll(outbox) })
	c := layout(t, root, "", "")
	c.Folders[0].Outbox = outbox
	ps := c.Check()
	p, ok := find(ps, "folders[0].outbox")
	if !ok || p.Warning || !strings.Contains(p.Message, "different volume than inbox") || !strings.Contains(p.Hint, "atomic renames") {
		t.Errorf("want outbox on a different volume, got %+v", ps)
	}
	if len(ps) != 1 {
		t.Errorf("%d problems, want 1:\n%v", len(ps), Problems(ps))
	}
}

func TestCheckSecretFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("skipping: Windows protects files with ACLs, not mode bits")
	}
	root := t.TempDir()
	const secret = "Pasted-S3cret"
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, name), []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("open.secret", 0o644)
	write("closed.secret", 0o600)
	write("signer.p12", 0o640)
	write("ca.pem", 0o644)
	c := layout(t, root, `
[backends.open]
type = "signstash"
base_url = "https://p.example/signstash/einvoice-integration-client-ws"
token_url = "https://p.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_file = "open.secret"
instances = ["https://p.example"]
ca_file = "ca.pem"
[backends.closed]
type = "signstash"
base_url = "https://p.example/signstash/einvoice-integration-client-ws"
token_url = "https://p.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_file = "closed.secret"
instances = ["https://p.example"]
ca_file = "missing-ca.pem"
[backends.gone]
type = "signstash"
base_url = "https://p.example/signstash/einvoice-integration-client-ws"
token_url = "https://p.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_file = "`+secret+`"
instances = ["https://p.example"]
[backends.hsm]
type = "local"
certificate = "signer.p12"
password_file = "closed.secret"
`, `backend = "hsm"`)
	ps := c.Check()
	for _, tt := range []struct {
		key, msg string
		warning  bool
	}{
		{"backends.open.client_secret_file", "readable by group or others (mode 0644)", true},
		{"backends.hsm.certificate", "readable by group or others (mode 0640)", true},
		{"backends.closed.ca_file", "missing-ca.pem does not exist", false},
		{"backends.gone.client_secret_file", "the file does not exist", false},
	} {
		p, ok := find(ps, tt.key)
		if !ok || p.Warning != tt.warning || !strings.Contains(p.Message, tt.msg) || p.Line == 0 {
			t.Errorf("want %s: %q (warning %v), got %+v", tt.key, tt.msg, tt.warning, p)
		}
	}
	for _, key := range []string{"backends.closed.client_secret_file", "backends.hsm.password_file", "backends.open.ca_file"} {
		if p, ok := find(ps, key); ok {
			t.Errorf("unexpected problem %v", p)
		}
	}
	if strings.Contains(Problems(ps).Error(), "S3cret") {
		t.Errorf("a secret file name (possibly a pasted secret) is repeated:\n%v", Problems(ps))
	}
	if len(ps) != 4 {
		t.Errorf("%d problems, want 4:\n%v", len(ps), Problems(ps))
	}
}

func TestCheckWarnings(t *testing.T) {
	root := t.TempDir()
	c := layout(t, root, `listen = "0.0.0.0:9464"
[backends.ss]
type = "signstash"
base_url = "http://proxy.internal:8081/signstash/einvoice-integration-client-ws"
token_url = "http://127.0.0.1:8081/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_env = "SS_SECRET"
`, "")
	ps := c.Check()
	// base_url: not encrypted; instances: a proxy with none listed.
	for _, key := range []string{"listen", "backends.ss.base_url", "backends.ss.instances"} {
		if p, ok := find(ps, key); !ok || !p.Warning {
			t.Errorf("want a warning for %s, got %+v", key, p)
		}
	}
	if p, ok := find(ps, "backends.ss.token_url"); ok {
		t.Errorf("loopback http warned: %v", p)
	}
	if len(ps) != 3 {
		t.Errorf("%d problems, want 3:\n%v", len(ps), Problems(ps))
	}
	// Warnings do not fail validation.
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	// An empty configuration warns that nothing is watched.
	if p, ok := find(Default().Check(), "folders"); !ok || !p.Warning {
		t.Errorf("no warning for a config without folders: %+v", p)
	}
}

// Check on a configuration that failed to parse still reports the
// decoding problems, together with the filesystem's.
func TestCheckAfterParseError(t *testing.T) {
	root := t.TempDir()
	c, err := Parse([]byte(`settle = "1s"
[[folders]]
name = "a"
inbox = "in"
outbox = "out"
error = "err"
`), filepath.Join(root, "c.toml"))
	if err == nil || c == nil {
		t.Fatalf("Parse = %v, %v; want a config and an error", c, err)
	}
	ps := c.Check()
	if _, ok := find(ps, "settle"); !ok {
		t.Errorf("decoding problem lost:\n%v", Problems(ps))
	}
	if _, ok := find(ps, "folders[0].inbox"); !ok {
		t.Errorf("filesystem problem missing:\n%v", Problems(ps))
	}
}

// The example, with its folders created, passes every check: `make run`
// starts without a warning.
func TestCheckExample(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"inbox", "outbox", "error", "archive"} {
		if err := os.MkdirAll(filepath.Join(root, "var", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Parse(data, filepath.Join(root, "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Check(); len(ps) != 0 {
		t.Errorf("example has problems:\n%v", Problems(ps))
	}
}
