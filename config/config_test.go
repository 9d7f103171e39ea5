package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signing"
)

// problemsOf returns the problems carried by err, failing the test when err
// is not a *Problems.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T (%v), want *Problems", err, err)
	}
	return *ps
}

// find returns the first problem for key.
func find(ps []Problem, key string) (Problem, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p, true
		}
	}
	return Problem{}, false
}

func mustParse(t *testing.T, src, path string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), path)
	if err != nil {
		t.Fatalf("Parse: %v\n--- source:\n%s", err, src)
	}
	return c
}

func TestExampleParsesAndValidates(t *testing.T) {
	c, err := Load("../config.example.toml")
	if err != nil {
		t.Fatalf("Load(config.example.toml): %v", err)
	}
	root, _ := filepath.Abs("..")
	if want := filepath.Join(root, "var", "data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	b := c.Backends["local"]
	if len(c.Backends) != 1 || b == nil || b.Type != TypeLocal || b.Certificate != DevCertificate || b.Name != "local" {
		t.Errorf("backends = %+v, want one local backend with the dev certificate", c.Backends)
	}
	if len(c.Folders) != 1 {
		t.Fatalf("%d folders, want 1", len(c.Folders))
	}
	f := c.Folders[0]
	for _, tt := range []struct{ got, want string }{
		{f.Name, "invoices"},
		{f.Inbox, filepath.Join(root, "var", "inbox")},
		{f.Outbox, filepath.Join(root, "var", "outbox")},
		{f.Error, filepath.Join(root, "var", "error")},
		{f.Archive, filepath.Join(root, "var", "archive")},
		{f.Backend, "local"},
	} {
		if tt.got != tt.want {
			t.Errorf("folder field = %q, want %q", tt.got, tt.want)
		}
	}
	if !reflect.DeepEqual(f.Include, []string{"*.pdf", "*.xml"}) {
		t.Errorf("Include = %q", f.Include)
	}
	// Its static problems: none, not even warnings.
	if ps := c.static(); len(ps) != 0 {
		t.Errorf("example has problems:\n%v", Problems(ps))
	}
}

// The example must document every key the decoder knows, and the decoder
// must know every key the structs declare.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]struct {
		typ   reflect.Type
		known []string
	}{
		"top":       {reflect.TypeFor[Config](), topKeys},
		"backend":   {reflect.TypeFor[Backend](), backendKeys},
		"folder":    {reflect.TypeFor[Folder](), folderKeys},
		"signature": {reflect.TypeFor[Signature](), signatureKeys},
		"visible":   {reflect.TypeFor[Visible](), visibleKeys},
	}
	for name, tb := range tables {
		var tags []string
		for i := 0; i < tb.typ.NumField(); i++ {
			tag := tb.typ.Field(i).Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			tags = append(tags, tag)
			// Commented or not, at the start of a line: "key =" or "# key =".
			re := regexp.MustCompile(`(?m)^(# ?)*` + regexp.QuoteMeta(tag) + ` = `)
			if !re.Match(data) && tag != "backends" && tag != "folders" && tag != "visible" && tag != "paths" && tag != "signature" {
				t.Errorf("config.example.toml does not document %s key %q", name, tag)
			}
		}
		if !reflect.DeepEqual(tags, tb.known) {
			t.Errorf("%s: struct keys %q, decoder keys %q", name, tags, tb.known)
		}
	}
	for _, table := range []string{"[backends.local]", "# [backends.signstash]", "# [backends.signstash.paths]",
		"[[folders]]", "[folders.signature]", "# [folders.signature.visible]"} {
		if !strings.Contains(string(data), "\n"+table+"\n") {
			t.Errorf("config.example.toml lacks table %s", table)
		}
	}
	for _, k := range PathKeys {
		if !strings.Contains(string(data), "\n# "+k+" = ") {
			t.Errorf("config.example.toml does not document paths key %q", k)
		}
	}
}

// The commented-out signstash example must be valid once uncommented.
func TestExampleSignStashUncommented(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	start := strings.Index(src, "# [backends.signstash]")
	end := start + strings.Index(src[start:], "# ----")
	var out []string
	for _, l := range strings.Split(src[start:end], "\n") {
		l = strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
		if strings.HasPrefix(l, "# ") || strings.HasPrefix(l, "client_secret_env") {
			continue // prose, and the alternative to client_secret_file
		}
		out = append(out, l)
	}
	dir := t.TempDir()
	c := mustParse(t, strings.Join(out, "\n")+`
[[folders]]
name = "remote"
inbox = "in"
outbox = "out"
error = "err"
backend = "signstash"
`, filepath.Join(dir, "config.toml"))
	b := c.Backends["signstash"]
	if b == nil || b.BaseURL != "http://127.0.0.1:8081/signstash/einvoice-integration-client-ws" ||
		b.TokenURL != "http://127.0.0.1:8081/oauth2/authorization-server/oauth/token" ||
		b.ClientSecretFile != filepath.Join(dir, "var", "signstash.secret") || len(b.Paths) != len(PathKeys) {
		t.Errorf("signstash backend = %+v", b)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	c := mustParse(t, "# nothing\n", path)
	want := Default()
	want.DataDir = filepath.Join(dir, "data")
	if c.DataDir != want.DataDir || c.LogLevel != "info" || c.LogFormat != "text" ||
		c.Listen != "127.0.0.1:9464" || c.LedgerRetention.Duration != 90*24*time.Hour ||
		c.BackupInterval.Duration != 24*time.Hour || c.BackupKeep != 7 {
		t.Errorf("empty file = %+v, want %+v", c, want)
	}
	if !reflect.DeepEqual(c.Backends, want.Backends) {
		t.Errorf("backends = %+v, want %+v", c.Backends["local"], want.Backends["local"])
	}
	if b := c.Backends["local"]; b.MaxSize != 100*MB || b.Workers != 0 {
		t.Errorf("local backend = %+v", b)
	}
	if c.Path != path {
		t.Errorf("Path = %q", c.Path)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestDefaultsApplied(t *testing.T) {
	c := mustParse(t, `
[backends.ss]
type = "signstash"
base_url = "https://proxy.example:8081/signstash/einvoice-integration-client-ws"
token_url = "https://auth.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_env = "SS_SECRET"

[[folders]]
name = "a"
inbox = "/srv/a/in"
outbox = "/srv/a/out"
error = "/srv/a/err"
`, "/etc/signagent/config.toml")
	b := c.Backends["ss"]
	if b.Mode != "auto" || b.SyncMaxFiles != 50 || b.Timeout.Duration != 5*time.Minute ||
		b.PollInterval.Duration != 2*time.Second || b.Certificate != "" || b.MaxSize != 0 {
		t.Errorf("signstash defaults = %+v", b)
	}
	f := c.Folders[0]
	want := DefaultFolder()
	want.Name, want.Inbox, want.Outbox, want.Error = "a", "/srv/a/in", "/srv/a/out", "/srv/a/err"
	want.Backend = "ss" // the only backend
	if !reflect.DeepEqual(f, want) {
		t.Errorf("folder = %+v\nwant     %+v", f, want)
	}
	if f.Settle.Duration != 2*time.Second || f.ScanInterval.Duration != 0 || f.MaxFiles != 50 ||
		f.MaxBytes != 20_000_000 || f.MaxWait.Duration != 5*time.Second || f.OnCollision != "suffix" ||
		f.GiveUpAfter.Duration != 24*time.Hour || f.ArchiveRetention.Duration != 0 || f.Signature.Type != "auto" {
		t.Errorf("folder defaults = %+v", f)
	}
	if got := f.Signature.Options(); got.Type != signing.TypeAuto || got.Visible != nil {
		t.Errorf("Options() = %+v", got)
	}
}

func TestValuesDecoded(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, `
data_dir = "state"
log_level = "debug"
log_format = "json"
listen = "off"
ledger_retention = "0s"
backup_interval = "6h"
backup_keep = 0

[backends.hsm]
type = "local"
certificate = "certs/signer.p12"
password_file = "/etc/signagent/p12.pass"
tsa_url = "https://tsa.example/tsr"
max_size = 1048576
workers = 3

[[folders]]
name = "acme.invoices_1"
inbox = "in"
outbox = "out"
error = "err"
archive = "arc"
include = ["*.PDF"]
exclude = ["draft-*"]
recursive = true
settle = "500ms"
scan_interval = "5m"
max_files = 2500
max_bytes = "1GiB"
max_wait = "1s"
on_collision = "fail"
done_marker = true
give_up_after = "2d"
archive_retention = "365d"
signature = { type = "pades", reason = "Invoice", location = "Lisboa", name = "ACME", timestamp = true, visible = { page = 2, x = 10, y = 20.5, width = 200, height = 50 } }
`, filepath.Join(dir, "config.toml"))
	if c.DataDir != filepath.Join(dir, "state") || c.LogLevel != "debug" || c.LogFormat != "json" || c.Listen != "off" || c.LedgerRetention.Duration != 0 ||
		c.BackupInterval.Duration != 6*time.Hour || c.BackupKeep != 0 {
		t.Errorf("top = %+v", c)
	}
	b := c.Backends["hsm"]
	if b.Certificate != filepath.Join(dir, "certs", "signer.p12") || b.PasswordFile != "/etc/signagent/p12.pass" ||
		b.TSAURL != "https://tsa.example/tsr" || b.MaxSize != 1048576 || b.Workers != 3 {
		t.Errorf("backend = %+v", b)
	}
	f := c.Folders[0]
	if f.Inbox != filepath.Join(dir, "in") || f.Archive != filepath.Join(dir, "arc") || !f.Recursive || !f.DoneMarker ||
		f.Settle.Duration != 500*time.Millisecond || f.MaxFiles != 2500 || f.MaxBytes != GiB || f.OnCollision != "fail" ||
		f.GiveUpAfter.Duration != 48*time.Hour || f.ArchiveRetention.Duration != 365*24*time.Hour ||
		!reflect.DeepEqual(f.Include, []string{"*.PDF"}) || !reflect.DeepEqual(f.Exclude, []string{"draft-*"}) {
		t.Errorf("folder = %+v", f)
	}
	want := signing.Options{Type: signing.TypePAdES, Reason: "Invoice", Location: "Lisboa", Name: "ACME", Timestamp: true,
		Visible: &signing.Visible{Page: 2, X: 10, Y: 20.5, W: 200, H: 50}}
	if got := f.Signature.Options(); !reflect.DeepEqual(got, want) {
		t.Errorf("Options() = %+v, want %+v", got, want)
	}
}

// Each bad value is reported under its key, at its line.
func TestBadValuesNameKeyAndLine(t *testing.T) {
	const head = `[backends.local]
type = "local"
[backends.ss]
type = "signstash"
base_url = "https://p.example/signstash/einvoice-integration-client-ws"
token_url = "https://p.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_file = "/etc/ss.secret"
[[folders]]
name = "a"
inbox = "/a/in"
outbox = "/a/out"
error = "/a/err"
backend = "local"
[[folders]]
name = "b"
inbox = "/b/in"
outbox = "/b/out"
error = "/b/err"
backend = "ss"
` // 20 lines; the case's line is line 21
	for _, tt := range []struct {
		line, key, msg string
		before         bool   // put the line at the very top of the file (line 1)
		replace        string // replace this line of head instead of appending
		at             int    // line of the replaced line
	}{
		{`log_level = "loud"`, "log_level", `"loud" is not a valid value`, true, "", 0},
		{`log_format = "xml"`, "log_format", `"xml" is not a valid value`, true, "", 0},
		{`listen = "9464"`, "listen", "not a host:port", true, "", 0},
		{`listen = "localhost:99999"`, "listen", "not a host:port", true, "", 0},
		{`ledger_retention = "soon"`, "ledger_retention", "invalid duration", true, "", 0},
		{`ledger_retention = 90`, "ledger_retention", "must be a duration string, not an integer", true, "", 0},
		{`backup_interval = "30s"`, "backup_interval", "at least 1m", true, "", 0},
		{`backup_interval = "daily"`, "backup_interval", "invalid duration", true, "", 0},
		{`backup_keep = -1`, "backup_keep", "must not be negative", true, "", 0},
		{`backup_keep = "7"`, "backup_keep", "must be an integer, not a string", true, "", 0},
		{`data_dir = ""`, "data_dir", "must not be empty", true, "", 0},
		{`data_dir = 3`, "data_dir", "must be a string, not an integer", true, "", 0},
		{`settle = "2"`, "folders[1].settle", "has no unit", false, "", 0},
		{`settle = "0s"`, "folders[1].settle", "longer than zero", false, "", 0},
		{`scan_interval = "-1m"`, "folders[1].scan_interval", "negative", false, "", 0},
		{`max_files = 0`, "folders[1].max_files", "between 1 and 2500", false, "", 0},
		{`max_files = 2501`, "folders[1].max_files", "between 1 and 2500", false, "", 0},
		{`max_files = "50"`, "folders[1].max_files", "must be an integer, not a string", false, "", 0},
		{`max_bytes = "lots"`, "folders[1].max_bytes", "invalid size", false, "", 0},
		{`max_bytes = 0`, "folders[1].max_bytes", "larger than zero", false, "", 0},
		{`max_wait = "0s"`, "folders[1].max_wait", "longer than zero", false, "", 0},
		{`on_collision = "replace"`, "folders[1].on_collision", `"replace" is not a valid value`, false, "", 0},
		{`give_up_after = "0s"`, "folders[1].give_up_after", "longer than zero", false, "", 0},
		{`archive_retention = "30d"`, "folders[1].archive_retention", "only when archive is set", false, "", 0},
		{`recursive = "yes"`, "folders[1].recursive", "must be true or false", false, "", 0},
		{`include = "*.pdf"`, "folders[1].include", "must be an array of strings", false, "", 0},
		{`include = []`, "folders[1].include", "at least one pattern", false, "", 0},
		{`include = ["[a-"]`, "folders[1].include[0]", "not a valid pattern", false, "", 0},
		{`exclude = ["ok", 3]`, "folders[1].exclude[1]", "must be a string, not an integer", false, "", 0},
		{`exclude = ["sub/*.pdf"]`, "folders[1].exclude[0]", "path separator", false, "", 0},
		{`backend = "nope"`, "folders[1].backend", `backend "nope" is not configured`, false, `backend = "ss"`, 20},
		{`name = "a"`, "folders[1].name", `already used by folders[0]`, false, `name = "b"`, 16},
		{`name = "../x"`, "folders[1].name", `folder name "../x" is not allowed`, false, `name = "b"`, 16},
		{`archive = "/b/out"`, "folders[1].archive", "same directory as outbox", false, "", 0},
		{`signature.type = "pdf"`, "folders[1].signature.type", `"pdf" is not a valid value`, false, "", 0},
		{`signature.visible = { page = 0, width = 1, height = 1 }`, "folders[1].signature.visible.page", "1 or more", false, "", 0},
		{`signature.visible = { page = 1, width = -1, height = 1 }`, "folders[1].signature.visible.width", "larger than zero", false, "", 0},
		{`signature.visible = { page = 1, width = 1, height = 1, x = -3 }`, "folders[1].signature.visible.x", "must not be negative", false, "", 0},
		{`signature.visible = { page = "one", width = 1, height = 1 }`, "folders[1].signature.visible.page", "must be an integer", false, "", 0},
		{`signature = "pades"`, "folders[1].signature", "must be a table", false, "", 0},
	} {
		src := head + tt.line + "\n"
		wantLine := 21
		switch {
		case tt.before:
			src, wantLine = tt.line+"\n"+head, 1
		case tt.replace != "":
			src, wantLine = strings.Replace(head, tt.replace+"\n", tt.line+"\n", 1), tt.at
		}
		_, err := Parse([]byte(src), "config.toml")
		if err == nil {
			t.Errorf("%s: no error", tt.line)
			continue
		}
		ps := problemsOf(t, err)
		p, ok := find(ps, tt.key)
		if !ok {
			t.Errorf("%s: no problem for %s in:\n%v", tt.line, tt.key, err)
			continue
		}
		if p.Line != wantLine || !strings.Contains(p.Message, tt.msg) || p.File != "config.toml" || p.Warning {
			t.Errorf("%s: got %+v, want line %d and message containing %q", tt.line, p, wantLine, tt.msg)
		}
		if s := p.String(); !strings.HasPrefix(s, "config.toml:"+strconv.Itoa(wantLine)+": "+tt.key+": ") {
			t.Errorf("String() = %q", s)
		}
		if len(ps) != 1 {
			t.Errorf("%s: %d problems, want 1:\n%v", tt.line, len(ps), err)
		}
	}
}

func TestBackendProblems(t *testing.T) {
	for _, tt := range []struct {
		name, body, key, msg string
	}{
		{"no type", `certificate = "dev"`, "backends.x.type", "has no type"},
		{"bad type", `type = "pkcs11"`, "backends.x.type", `"pkcs11" is not a backend type`},
		{"local with remote key", "type = \"local\"\nmode = \"sync\"", "backends.x.mode", "only to signstash"},
		{"local empty cert", "type = \"local\"\ncertificate = \"\"", "backends.x.certificate", "must not be empty"},
		{"dev with key", "type = \"local\"\nkey_file = \"k.pem\"", "backends.x.certificate", "do not apply"},
		{"bad tsa", "type = \"local\"\ntsa_url = \"tsa.example\"", "backends.x.tsa_url", "not an http(s) URL"},
		{"negative workers", "type = \"local\"\nworkers = -1", "backends.x.workers", "must not be negative"},
		{"zero max_size", "type = \"local\"\nmax_size = 0", "backends.x.max_size", "larger than zero"},
		{"negative max_size", "type = \"local\"\nmax_size = -5", "backends.x.max_size", "negative"},
		{"signstash with local key", ss + `workers = 2`, "backends.x.workers", "only to local"},
		{"no base_url", strings.Replace(ss, "base_url", "#", 1), "backends.x.base_url", "required"},
		{"no token_url", strings.Replace(ss, "token_url", "#", 1), "backends.x.token_url", "required"},
		{"no client_id", strings.Replace(ss, "client_id", "#", 1), "backends.x.client_id", "required"},
		{"no secret", strings.Replace(ss, "client_secret_file", "#", 1), "backends.x.client_secret_file", "not configured"},
		{"two secrets", ss + `client_secret_env = "SS"`, "backends.x.client_secret_env", "configured twice"},
		{"bad mode", ss + `mode = "batch"`, "backends.x.mode", `"batch" is not a valid value`},
		{"sync_max_files", ss + `sync_max_files = 0`, "backends.x.sync_max_files", "between 1 and 2500"},
		{"timeout", ss + `timeout = "0s"`, "backends.x.timeout", "longer than zero"},
		{"poll", ss + `poll_interval = "0s"`, "backends.x.poll_interval", "longer than zero"},
		{"url scheme", strings.Replace(ss, "https://p.example", "ftp://p.example", 1), "backends.x.base_url", "not an http(s) URL"},
		{"url user", strings.Replace(ss, "https://p.example", "https://u:pw@p.example", 1), "backends.x.base_url", "user name or password"},
		{"unknown path", ss + "[backends.x.paths]\nasync_regster = \"a/b\"", "backends.x.paths.async_regster", `unknown path "async_regster"`},
		{"bad path", ss + "[backends.x.paths]\nstatus = \"http://elsewhere/x\"", "backends.x.paths.status", "not a path template"},
		{"bad name", "type = \"local\"", "", ""}, // see below
	} {
		src := "[backends.x]\n" + tt.body + "\n"
		if tt.name == "bad name" {
			src = "[backends.\"my backend\"]\n" + tt.body + "\n"
			tt.key, tt.msg = `backends."my backend"`, `backend name "my backend" is not allowed`
		}
		_, err := Parse([]byte(src), "c.toml")
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		p, ok := find(problemsOf(t, err), tt.key)
		if !ok || !strings.Contains(p.Message, tt.msg) || p.Line == 0 {
			t.Errorf("%s: want %s: %q at a line, got:\n%v", tt.name, tt.key, tt.msg, err)
		}
		if tt.name == "url user" && strings.Contains(err.Error(), "pw@") {
			t.Errorf("URL credentials echoed: %v", err)
		}
	}
}

const ss = `type = "signstash"
base_url = "https://p.example/signstash/einvoice-integration-client-ws"
token_url = "https://p.example/oauth2/authorization-server/oauth/token"
client_id = "PRT.1-PRT.2-x"
client_secret_file = "/etc/ss.secret"
`

func TestUnknownKeys(t *testing.T) {
	src := `log_levle = "info"          # line 1
[backends.local]
type = "local"
workerz = 2                    # line 4
[[folders]]
name = "a"
inbox = "/a/in"
outbox = "/a/out"
error = "/a/err"
[[folders]]
name = "b"
inbox = "/b/in"
outbox = "/b/out"
error = "/b/err"
settel = "2s"                  # line 15
[folders.signature]
reasn = "Invoice"              # line 17
visible = { page = 1, width = 1, height = 1, colour = "red" }  # line 18
[backend.x]                    # line 19
type = "local"
`
	_, err := Parse([]byte(src), "c.toml")
	ps := problemsOf(t, err)
	for _, tt := range []struct {
		key  string
		line int
		hint string
	}{
		{"log_levle", 1, `"log_level"`},
		{"backends.local.workerz", 4, `"workers"`},
		{"folders[1].settel", 15, `"settle"`},
		{"folders[1].signature.reasn", 17, `"reason"`},
		{"folders[1].signature.visible.colour", 18, "config.example.toml"},
		{"backend", 19, `"backends"`},
	} {
		p, ok := find(ps, tt.key)
		if !ok || p.Line != tt.line || !strings.Contains(p.Message, "unknown key") || !strings.Contains(p.Hint, tt.hint) {
			t.Errorf("want unknown %s at line %d with hint %s; got %+v", tt.key, tt.line, tt.hint, p)
		}
	}
	if len(ps) != 6 {
		t.Errorf("%d problems, want 6:\n%v", len(ps), err)
	}
}

// Secrets typed into the file are rejected, and never repeated.
func TestInlineSecretRejected(t *testing.T) {
	const secret = "Sup3r-S3cret-Value"
	for _, tt := range []struct{ name, src, key string }{
		{"client_secret", "[backends.x]\n" + ss + `client_secret = "` + secret + `"`, "backends.x.client_secret"},
		{"secret as env name", "[backends.x]\n" + strings.Replace(ss, "client_secret_file", "#", 1) + `client_secret_env = "` + secret + `!"`, "backends.x.client_secret_env"},
		{"password", "[backends.x]\ntype = \"local\"\npassword = \"" + secret + `"`, "backends.x.password"},
		{"secret of wrong type", "[backends.x]\n" + strings.Replace(ss, `client_id = "PRT.1-PRT.2-x"`, `client_id = ["`+secret+`"]`, 1), "backends.x.client_id"},
	} {
		_, err := Parse([]byte(tt.src), "c.toml")
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("%s: the secret is in the error: %v", tt.name, err)
		}
		p, ok := find(problemsOf(t, err), tt.key)
		if !ok || p.Line == 0 {
			t.Errorf("%s: no problem for %s at a line:\n%v", tt.name, tt.key, err)
		}
		if tt.name == "client_secret" && !strings.Contains(p.Hint, "client_secret_file") {
			t.Errorf("hint %q does not point to client_secret_file", p.Hint)
		}
	}
}

func TestFolderLayoutProblems(t *testing.T) {
	for _, tt := range []struct {
		name, src, key, msg string
	}{
		{"duplicate inbox", folder("a", "/x/in", "/a/out", "/a/err") + folder("b", "/x/in/", "/b/out", "/b/err"),
			"folders[1].inbox", "also the inbox of folders[0] (a)"},
		{"outbox inside own inbox", folder("a", "/a/in", "/a/in/signed", "/a/err"), "folders[0].outbox", "lies in the inbox of folders[0]"},
		{"error inside other inbox", folder("a", "/a/in", "/a/out", "/a/err") + folder("b", "/b/in", "/b/out", "/a/in/err"),
			"folders[1].error", "lies in the inbox of folders[0]"},
		{"outbox is other inbox", folder("a", "/a/in", "/a/out", "/a/err") + folder("b", "/b/in", "/a/in", "/b/err"),
			"folders[1].outbox", "lies in the inbox of folders[0]"},
		{"inbox == outbox", folder("a", "/a/in", "/a/in", "/a/err"), "folders[0].outbox", "same directory as inbox"},
		{"outbox == error", folder("a", "/a/in", "/a/out", "/a/out"), "folders[0].error", "same directory as outbox"},
		{"nested inbox under recursive", folder("a", "/a/in", "/a/out", "/a/err") + "recursive = true\n" + folder("b", "/a/in/b", "/b/out", "/b/err"),
			"folders[1].inbox", "recursive inbox of folders[0]"},
		{"missing name", "[[folders]]\ninbox = \"/a\"\noutbox = \"/b\"\nerror = \"/c\"\n", "folders[0].name", "no name"},
		{"missing outbox", "[[folders]]\nname = \"a\"\ninbox = \"/a\"\nerror = \"/c\"\n", "folders[0].outbox", "is required"},
		{"folders as table", "[folders]\nname = \"a\"\n", "folders", "must be an array of tables"},
		{"backend required", "[backends.a]\ntype = \"local\"\n[backends.b]\ntype = \"local\"\n" + folder("a", "/a/in", "/a/out", "/a/err"),
			"folders[0].backend", "required when several backends"},
		{"timestamp without tsa", folder("a", "/a/in", "/a/out", "/a/err") + "signature.timestamp = true\n",
			"folders[0].signature.timestamp", "no tsa_url"},
		{"visible on xades", folder("a", "/a/in", "/a/out", "/a/err") + "[folders.signature]\ntype = \"xades\"\nvisible = { page = 1, width = 10, height = 10 }\n",
			"folders[0].signature.visible", "only in PDFs"},
	} {
		_, err := Parse([]byte(tt.src), "c.toml")
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		p, ok := find(problemsOf(t, err), tt.key)
		if !ok || !strings.Contains(p.Message, tt.msg) || p.Line == 0 {
			t.Errorf("%s: want %s: %q, got:\n%v", tt.name, tt.key, tt.msg, err)
		}
	}
	// A sub-folder inbox is fine when the outer one is not recursive.
	mustParse(t, folder("a", "/a/in", "/a/out", "/a/err")+folder("b", "/a/in/b", "/b/out", "/b/err"), "c.toml")
	// Two folders may share an outbox and an error folder.
	mustParse(t, folder("a", "/a/in", "/out", "/err")+folder("b", "/b/in", "/out", "/err"), "c.toml")
}

func folder(name, in, out, errDir string) string {
	return "[[folders]]\nname = \"" + name + "\"\ninbox = \"" + in + "\"\noutbox = \"" + out + "\"\nerror = \"" + errDir + "\"\n"
}

func TestSeveralProblemsAtOnce(t *testing.T) {
	src := `log_level = "chatty"
ledger_retention = 5
[backends.ss]
type = "signstash"
client_secret = "x"
[[folders]]
name = "a b"
inbox = "in"
outbox = "in"
error = "err"
max_files = 99999
colour = "blue"
`
	_, err := Parse([]byte(src), "cfg.toml")
	ps := problemsOf(t, err)
	for _, key := range []string{"log_level", "ledger_retention", "backends.ss.client_secret", "backends.ss.base_url",
		"backends.ss.token_url", "backends.ss.client_id", "backends.ss.client_secret_file",
		"folders[0].name", "folders[0].outbox", "folders[0].max_files", "folders[0].colour"} {
		if _, ok := find(ps, key); !ok {
			t.Errorf("no problem for %s", key)
		}
	}
	// In file order, one line each plus hints, every line naming the file.
	for i := 1; i < len(ps); i++ {
		if ps[i].Line < ps[i-1].Line {
			t.Errorf("problems out of order: %v before %v", ps[i-1], ps[i])
		}
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(l, "cfg.toml:") && !strings.HasPrefix(l, "    hint: ") {
			t.Errorf("unexpected line in Error(): %q", l)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	c, err := Parse([]byte("log_level = \"info\"\n\n[[folders]]\nname = invoices\n"), "c.toml")
	if c != nil {
		t.Errorf("config returned for unreadable TOML")
	}
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Line != 4 || !strings.Contains(ps[0].Message, "invalid TOML") {
		t.Errorf("got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].File != path || !strings.Contains(ps[0].Message, "cannot read") || ps[0].Hint == "" {
		t.Errorf("got %+v", ps)
	}
}

func TestProblemsAsError(t *testing.T) {
	_, err := Parse([]byte(`log_level = "x"`), "c.toml")
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Errorf("errors.As(Problems) failed for %v", err)
	}
	if signagent.KindOf(err) != signagent.KindConfig || signagent.CodeOf(err) != signagent.CodeConfig {
		t.Errorf("KindOf = %v, CodeOf = %v; want configuration", signagent.KindOf(err), signagent.CodeOf(err))
	}
	if h := signagent.HintOf(err); !strings.Contains(h, "debug") {
		t.Errorf("HintOf = %q", h)
	}
	wrapped := errors.Join(errors.New("loading"), err)
	if signagent.KindOf(wrapped) != signagent.KindConfig {
		t.Errorf("wrapped Problems lost their kind")
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "c.toml", Line: 12, Key: "folders[0].settle", Message: "bad"}, "c.toml:12: folders[0].settle: bad"},
		{Problem{File: "c.toml", Key: "listen", Message: "open", Warning: true}, "c.toml: listen: warning: open"},
		{Problem{Line: 3, Message: "bad"}, "line 3: bad"},
		{Problem{Message: "bad"}, "bad"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// Line numbers survive the TOML constructs that span or hide lines.
func TestLineIndex(t *testing.T) {
	src := `# comment with key = value
title = """
[not a table]
key = "inside a string"
"""
arr = [
  "a", # ] not closing
  "b",
]
[backends."my backend"]   # line 10
type = 'local'            # line 11
"quoted.key" = 1          # line 12
[[folders]]               # line 13
name = "a#b"              # line 14
[[folders]]               # line 15
signature.reason = "x"    # line 16
[folders.signature.visible]  # line 17
page = 1                  # line 18
lit = '''
x = 1
'''
after = 2                 # line 22
`
	lines := indexLines([]byte(src))
	for key, want := range map[string]int{
		"title": 2, "arr": 6, `backends."my backend"`: 10, `backends."my backend".type`: 11,
		`backends."my backend"."quoted.key"`: 12, "folders[0]": 13, "folders[0].name": 14, "folders[1]": 15,
		"folders[1].signature.reason": 16, "folders[1].signature.visible": 17, "folders[1].signature.visible.page": 18,
		"folders[1].signature.visible.after": 22,
	} {
		if got := lines[key]; got != want {
			t.Errorf("line of %s = %d, want %d", key, got, want)
		}
	}
	for _, key := range []string{"key", "not a table", "folders[1].signature.visible.x"} {
		if n, ok := lines[key]; ok {
			t.Errorf("%s indexed at line %d, but it is inside a string", key, n)
		}
	}
	if got := lineOf(lines, "folders[1].signature.visible.width"); got != 17 {
		t.Errorf("fallback line = %d, want 17", got)
	}
}

// A configuration written back with the TOML encoder reads the same.
func TestEncodeRoundTrip(t *testing.T) {
	c, err := Load("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	c.Folders[0].Signature.Visible = &Visible{Page: 1, X: 36, Y: 36, Width: 200, Height: 50}
	c.Folders[0].ArchiveRetention = Duration{365 * 24 * time.Hour}
	c.Folders[0].MaxBytes = 3 * MiB
	var buf strings.Builder
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(buf.String()), c.Path)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, buf.String())
	}
	back.lines, c.lines = nil, nil
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the config:\n%s\ngot  %+v\nwant %+v", buf.String(), back.Folders[0], c.Folders[0])
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "config.example.toml"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLookups(t *testing.T) {
	c := mustParse(t, folder("a", "/a/in", "/a/out", "/a/err")+folder("b", "/b/in", "/b/out", "/b/err"), "c.toml")
	if f := c.Folder("b"); f == nil || f.Inbox != "/b/in" {
		t.Errorf("Folder(b) = %+v", f)
	}
	if f := c.Folder("zz"); f != nil {
		t.Errorf("Folder(zz) = %+v", f)
	}
	if b := c.BackendOf(c.Folder("a")); b == nil || b.Name != "local" {
		t.Errorf("BackendOf(a) = %+v", b)
	}
}
