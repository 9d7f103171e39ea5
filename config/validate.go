package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/watcher"
)

// namePattern is what folder and backend names may look like: they appear
// in file names, metric labels and the ledger.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// envPattern is what an environment variable name may look like.
var envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the configuration without touching the filesystem and
// returns every error at once as a *Problems, or nil. Warnings are left to
// Check.
func (c *Config) Validate() error {
	if ps := Problems(c.static()).Errors(); len(ps) > 0 {
		return &ps
	}
	return nil
}

// static returns the decoding problems plus every problem (errors and
// warnings) found without the filesystem, in file order.
func (c *Config) static() []Problem {
	v := &validator{c: c, decoded: map[string]bool{}}
	v.ps = append(v.ps, c.decoding...)
	for _, p := range c.decoding {
		v.decoded[p.Key] = true
	}
	v.top()
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v.backend(name, c.Backends[name])
	}
	v.folders()
	return v.sorted()
}

type validator struct {
	c      *Config
	ps     []Problem
	detect func(string) (watcher.FS, error) // file system of an inbox (Check only)
	// decoded are the keys with a decoding problem: their value is a
	// default, so checking it would only add noise.
	decoded map[string]bool
}

func (v *validator) errorf(key, hint, format string, args ...any) {
	v.add(false, key, hint, format, args...)
}

func (v *validator) warnf(key, hint, format string, args ...any) {
	v.add(true, key, hint, format, args...)
}

func (v *validator) add(warning bool, key, hint, format string, args ...any) {
	if v.decoded[key] {
		return
	}
	p := problemf(key, hint, format, args...)
	p.File = v.c.Path
	p.Line = lineOf(v.c.lines, key)
	p.Warning = warning
	v.ps = append(v.ps, p)
}

// sorted returns the problems by line, keeping the order of discovery
// within a line, without duplicates.
func (v *validator) sorted() []Problem {
	sort.SliceStable(v.ps, func(i, j int) bool { return v.ps[i].Line < v.ps[j].Line })
	out := v.ps[:0]
	seen := map[Problem]bool{}
	for _, p := range v.ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func (v *validator) oneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.errorf(key, "use one of: "+strings.Join(allowed, ", "), "%q is not a valid value", val)
	}
}

func (v *validator) positive(key string, d Duration) {
	if d.Duration <= 0 {
		v.errorf(key, `e.g. "30s", "5m" or "24h"`, "must be longer than zero")
	}
}

func (v *validator) top() {
	c := v.c
	if c.DataDir == "" {
		v.errorf("data_dir", `leave it out for "data" beside the config file, or name a directory`, "must not be empty")
	}
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	v.oneOf("log_format", c.LogFormat, "text", "json")
	if c.Listen != "" && c.Listen != "off" {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil || !validPort(port) {
			v.errorf("listen", `write host:port, e.g. "127.0.0.1:9464", or "off" to disable`, "%q is not a host:port address", c.Listen)
		} else if !signagent.LoopbackHost(host) {
			v.warnf("listen", `status and metrics are readable by anyone who can reach this address; bind to "127.0.0.1:9464" unless a firewall or proxy guards it`,
				"%q listens beyond this machine", c.Listen)
		}
	}
	if c.LedgerRetention.Duration < 0 {
		v.errorf("ledger_retention", `e.g. "90d"; "0s" keeps records forever`, "must not be negative")
	}
	if c.OutcomeUnknownAfter.Duration < time.Minute {
		v.errorf("outcome_unknown_after", `e.g. "1h" (the default) or "15m"`, "must be at least 1m")
	}
	if c.BackupInterval.Duration < time.Minute {
		v.errorf("backup_interval", `e.g. "24h" (the default) or "6h"`, "must be at least 1m")
	}
	if c.BackupKeep < 0 {
		v.errorf("backup_keep", fmt.Sprintf("default %d; 0 takes no backups", DefaultBackupKeep), "must not be negative")
	}
	switch m := c.OutputMode; {
	case m&0o600 != 0o600:
		v.errorf("output_mode", `the agent writes each output and reads it back to check it; e.g. "0640"`, "%s does not let the owner read and write", m)
	case m&0o002 != 0:
		v.errorf("output_mode", `e.g. "0640" (the group reads) or "0660" (the group may also move or delete them)`, "%s lets every account change signed documents", m)
	case m&0o004 != 0:
		v.warnf("output_mode", `e.g. "0640", and give the account that collects outputs the service's group`, "%s lets every account on this machine read signed documents", m)
	}
	v.path("data_dir", c.DataDir)
	if len(c.Backends) == 0 && len(c.decoding) == 0 {
		v.errorf("backends", `add one, e.g. [backends.local] with type = "local"`, "no backend is configured")
	}
	if len(c.Folders) == 0 {
		v.warnf("folders", "add a [[folders]] table for each inbox to watch", "no folders are configured; the agent will watch nothing")
	}
}

func validPort(p string) bool {
	var n int
	_, err := fmt.Sscanf(p, "%d", &n)
	return err == nil && fmt.Sprint(n) == p && n >= 0 && n <= 65535
}

func (v *validator) backend(name string, b *Backend) {
	key := joinKey("backends", name)
	k := func(s string) string { return joinKey(key, s) }
	if !namePattern.MatchString(name) {
		v.errorf(key, "use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit", "backend name %q is not allowed", name)
	}
	switch b.Type {
	case TypeLocal, TypeSignStash:
		// A key of the other type, set (its defaults are only its type's).
		bv, bt := reflect.ValueOf(b).Elem(), reflect.TypeFor[Backend]()
		for i := range bt.NumField() {
			if only := bt.Field(i).Tag.Get("backend"); only != "" && only != b.Type && !bv.Field(i).IsZero() {
				v.errorf(k(bt.Field(i).Tag.Get("toml")), fmt.Sprintf("remove it, or set type = %q", only), "applies only to %s backends", only)
			}
		}
		if b.Type == TypeLocal {
			v.local(k, b)
		} else {
			v.signstash(k, b)
		}
	case "":
		v.errorf(k("type"), `add type = "local" or type = "signstash"`, "backend %q has no type", name)
	default:
		v.errorf(k("type"), `use "local" or "signstash"`, "%q is not a backend type", b.Type)
	}
}

func (v *validator) local(k func(string) string, b *Backend) {
	if b.Certificate != DevCertificate {
		v.path(k("certificate"), b.Certificate)
	}
	v.path(k("key_file"), b.KeyFile)
	v.path(k("password_file"), b.PasswordFile)
	if b.Certificate == "" {
		v.errorf(k("certificate"), `use "dev" for a development certificate, or the path of a .p12/.pfx/.pem file`, "must not be empty")
	}
	if b.Certificate == DevCertificate && (b.KeyFile != "" || b.PasswordFile != "") {
		v.errorf(k("certificate"), "name the .p12/.pfx/.pem file the key belongs to, or remove key_file and password_file", `key_file and password_file do not apply to the "dev" certificate`)
	}
	if b.TSAURL != "" {
		v.url(k("tsa_url"), b.TSAURL)
	}
	if b.MaxSize <= 0 {
		v.errorf(k("max_size"), `e.g. "100MB"`, "must be larger than zero")
	}
	if b.Workers < 0 {
		v.errorf(k("workers"), "0 means one per CPU", "must not be negative")
	}
}

func (v *validator) signstash(k func(string) string, b *Backend) {
	v.path(k("client_secret_file"), b.ClientSecretFile)
	v.path(k("ca_file"), b.CAFile)
	for _, u := range []struct{ key, val, hint string }{
		{"base_url", b.BaseURL, "e.g. https://proxy.internal:8081/signstash/einvoice-integration-client-ws"},
		{"token_url", b.TokenURL, "e.g. https://msignstash.multicert.com/oauth2/authorization-server/oauth/token"},
	} {
		if u.val == "" {
			v.errorf(k(u.key), u.hint, "is required for signstash backends")
		} else {
			v.url(k(u.key), u.val)
		}
	}
	if b.ClientID == "" {
		v.errorf(k("client_id"), "the client service alias from the Sign'Stash back-office, e.g. PRT.505767457-PRT.123654123-84dd8c", "is required for signstash backends")
	}
	switch {
	case b.ClientSecretFile == "" && b.ClientSecretEnv == "":
		v.errorf(k("client_secret_file"), "set client_secret_file to a file holding the secret, or client_secret_env to the name of an environment variable", "the client secret is not configured")
	case b.ClientSecretFile != "" && b.ClientSecretEnv != "":
		v.errorf(k("client_secret_env"), "keep client_secret_file or client_secret_env, not both", "the client secret is configured twice")
	case b.ClientSecretEnv != "" && !envPattern.MatchString(b.ClientSecretEnv):
		// Never echo the value: a secret may have been pasted here.
		v.errorf(k("client_secret_env"), "write the variable's name (e.g. SIGNSTASH_SECRET), not the secret itself", "is not an environment variable name")
	}
	v.oneOf(k("mode"), b.Mode, "sync", "async", "auto")
	v.oneOf(k("transport"), b.Transport, signstash.TransportBase64, signstash.TransportMultipart)
	if b.SyncMaxFiles < 1 || b.SyncMaxFiles > MaxFilesLimit {
		v.errorf(k("sync_max_files"), "the proxy takes fewer than 100 documents per sync request; default 50", "must be between 1 and %d", MaxFilesLimit)
	}
	v.positive(k("timeout"), b.Timeout)
	v.positive(k("poll_interval"), b.PollInterval)
	if b.Service != "" {
		v.oneOf(k("service"), b.Service, signstash.ServiceProxy, signstash.ServiceSaaS)
	}
	v.oneOf(k("proof_of_absence"), b.ProofOfAbsence, signstash.ProofInstances, signstash.ProofSaaS)
	if b.InstanceScheme != "" {
		v.oneOf(k("instance_scheme"), b.InstanceScheme, "http", "https")
	}
	if b.HTTPProxy != "" {
		// Never echo the value: it may hold a password.
		if _, err := signstash.ProxyFunc(b.HTTPProxy, func(string) string { return "" }); err != nil {
			v.errorf(k("http_proxy"), "write the proxy as http://host:port (without credentials), or leave it out to use HTTPS_PROXY / NO_PROXY", "is not a usable proxy URL")
		}
	}
	if b.Mode == "async" && b.Service == signstash.ServiceSaaS {
		v.errorf(k("mode"), `the Integration Service signs synchronously: use mode = "sync" or "auto", or service = "proxy" if base_url is a proxy`, "async mode needs the Sign'Stash Proxy")
	}
	if b.BaseURL != "" {
		// The client's own reading, so what loads is what it uses.
		for i, in := range b.Instances {
			if _, err := signstash.ParseInstanceScheme(b.BaseURL, b.InstanceScheme, in); err != nil {
				v.errorf(indexKey(k("instances"), i), "write each instance as a base URL (http://10.0.0.5:8081/signstash/einvoice-integration-client-ws) or host:port",
					"%v", err)
			}
		}
	}
	pk := make([]string, 0, len(b.Paths))
	for p := range b.Paths {
		pk = append(pk, p)
	}
	sort.Strings(pk)
	for _, p := range pk {
		key := joinKey(k("paths"), p)
		if !slices.Contains(PathKeys, p) {
			hint := "known: " + strings.Join(PathKeys, ", ")
			if s := suggest(p, PathKeys); s != "" {
				hint = fmt.Sprintf("did you mean %q? known: %s", s, strings.Join(PathKeys, ", "))
			}
			v.errorf(key, hint, "unknown path %q", p)
			continue
		}
		// The client's own rule, so what loads is what it takes.
		if err := signstash.CheckPath(p, b.Paths[p]); err != nil {
			v.errorf(key, "write a path relative to base_url with this call's placeholders, e.g. api/v0/async/operation/status/{externalReference}", "%v", err)
		}
	}
}

// windowsPathHint says how to write a Windows path in TOML.
const windowsPathHint = `in double quotes a backslash starts an escape ("\t" is a tab): write Windows paths in single quotes, 'C:\ProgramData\signagent', or with forward slashes, "C:/ProgramData/signagent"`

// path reports a path holding a control character: a Windows path in double
// quotes whose backslashes became escapes ("C:\temp" holds a tab). The path
// is not echoed: it may be a secret pasted into the wrong key.
func (v *validator) path(key, p string) {
	if strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		v.errorf(key, windowsPathHint, "holds a tab, a line break or another control character")
	}
}

func (v *validator) url(key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(key, "write a full http:// or https:// URL", "%q is not an http(s) URL", raw)
		return
	}
	if u.User != nil {
		v.errorf(key, "credentials come from client_secret_file or client_secret_env", "must not contain a user name or password")
		return
	}
	if u.Scheme == "http" && !signagent.LoopbackHost(u.Hostname()) {
		v.warnf(key, "use https:// unless the network path is trusted", "%q is not encrypted", raw)
	}
}

// role is one directory of a folder set.
type role struct {
	key, path string
}

func roles(f *Folder) []role {
	rs := []role{{"inbox", f.Inbox}, {"outbox", f.Outbox}, {"error", f.Error}}
	if f.Archive != "" {
		rs = append(rs, role{"archive", f.Archive})
	}
	return rs
}

func (v *validator) folders() {
	c := v.c
	names := map[string]int{}
	for i, f := range c.Folders {
		key := indexKey("folders", i)
		k := func(s string) string { return joinKey(key, s) }
		switch {
		case f.Name == "":
			v.errorf(k("name"), `add name = "invoices" (letters, digits, '.', '_' and '-')`, "folder has no name")
		case !namePattern.MatchString(f.Name):
			v.errorf(k("name"), "use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit", "folder name %q is not allowed", f.Name)
		default:
			if j, dup := names[f.Name]; dup {
				v.errorf(k("name"), "give every folder its own name", "folder name %q is already used by folders[%d]", f.Name, j)
			} else {
				names[f.Name] = i
			}
		}
		for _, r := range []role{{"inbox", f.Inbox}, {"outbox", f.Outbox}, {"error", f.Error}} {
			if r.path == "" {
				v.errorf(k(r.key), fmt.Sprintf("add %s = \"/path/to/%s\"", r.key, r.key), "is required")
			}
		}
		rs := roles(f)
		for _, r := range rs {
			v.path(k(r.key), r.path)
		}
		for a := range rs {
			for b := a + 1; b < len(rs); b++ {
				if rs[a].path != "" && samePath(rs[a].path, rs[b].path) {
					v.errorf(k(rs[b].key), fmt.Sprintf("give %s and %s their own directories", rs[a].key, rs[b].key), "is the same directory as %s", rs[a].key)
				}
			}
		}
		if len(f.Include) == 0 {
			v.errorf(k("include"), `e.g. ["*.pdf", "*.xml"]`, "must name at least one pattern")
		}
		for j, p := range f.Include {
			v.pattern(indexKey(k("include"), j), p)
		}
		for j, p := range f.Exclude {
			v.pattern(indexKey(k("exclude"), j), p)
		}
		v.folderBackend(k, f)
		v.positive(k("settle"), f.Settle)
		if f.ScanInterval.Duration < 0 {
			v.errorf(k("scan_interval"), `e.g. "5s", or leave it out to choose by the inbox's file system`, "must not be negative")
		}
		if f.MaxFiles < 1 || f.MaxFiles > MaxFilesLimit {
			v.errorf(k("max_files"), fmt.Sprintf("default %d; Sign'Stash takes at most %d documents per request", DefaultMaxFiles, MaxFilesLimit), "must be between 1 and %d", MaxFilesLimit)
		}
		if f.MaxBytes <= 0 {
			v.errorf(k("max_bytes"), `e.g. "20MB"`, "must be larger than zero")
		}
		v.positive(k("max_wait"), f.MaxWait)
		v.oneOf(k("on_collision"), f.OnCollision, "suffix", "overwrite", "fail")
		v.positive(k("give_up_after"), f.GiveUpAfter)
		if f.ArchiveRetention.Duration < 0 {
			v.errorf(k("archive_retention"), `e.g. "365d"; "0s" keeps archived files forever`, "must not be negative")
		}
		if f.ArchiveRetention.Duration > 0 && f.Archive == "" {
			v.errorf(k("archive_retention"), "set archive, or remove archive_retention", "applies only when archive is set")
		}
		if f.ArchiveRetention.Duration > 0 && f.ArchiveRetention.Duration < time.Hour {
			v.warnf(k("archive_retention"), `archived originals are your proof of what was signed; keep them at least days, e.g. "365d"`, "keeps archived originals less than an hour")
		}
		v.signature(k, f)
	}
	v.crossFolders()
}

func (v *validator) pattern(key, p string) {
	if p == "" {
		v.errorf(key, `e.g. "*.pdf"`, "empty pattern")
		return
	}
	if _, err := filepath.Match(p, ""); err != nil {
		v.errorf(key, "patterns use * ? [a-z] and match file names", "%q is not a valid pattern", p)
		return
	}
	if strings.ContainsAny(p, `/\`) {
		v.errorf(key, `patterns match file names only, e.g. "*.pdf"`, "%q contains a path separator", p)
	}
}

func (v *validator) folderBackend(k func(string) string, f *Folder) {
	names := make([]string, 0, len(v.c.Backends))
	for n := range v.c.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	switch {
	case f.Backend == "" && len(names) > 1:
		v.errorf(k("backend"), "name one of: "+strings.Join(names, ", "), "is required when several backends are configured")
	case f.Backend != "" && v.c.Backends[f.Backend] == nil && len(names) > 0:
		v.errorf(k("backend"), "name one of: "+strings.Join(names, ", "), "backend %q is not configured", f.Backend)
	}
}

// visible checks where a visible signature goes: the keys of its location
// and no other's.
func (v *validator) visible(vk func(string) string, vis *Visible) {
	loc := vis.Location
	if loc == "" {
		loc = LocationCoordinate
	}
	if !slices.Contains([]string{LocationCoordinate, LocationSignField, LocationPlaceholder}, loc) {
		v.oneOf(vk("location"), loc, LocationCoordinate, LocationSignField, LocationPlaceholder)
		return
	}
	only := func(key, of string, set bool) {
		if set && loc != of {
			v.errorf(vk(key), fmt.Sprintf("remove it, or set location = %q", of), "applies only to location = %q", of)
		}
	}
	only("page", LocationCoordinate, vis.Page != 0)
	only("x", LocationCoordinate, vis.X != 0)
	only("y", LocationCoordinate, vis.Y != 0)
	only("field", LocationSignField, vis.Field != "")
	only("placeholder", LocationPlaceholder, vis.Placeholder != "")
	switch loc {
	case LocationCoordinate:
		if vis.Page < 1 {
			v.errorf(vk("page"), "pages are numbered from 1", "must be 1 or more")
		}
		if vis.X < 0 {
			v.errorf(vk("x"), "points from the page's left edge", "must not be negative")
		}
		if vis.Y < 0 {
			v.errorf(vk("y"), "points from the page's bottom edge", "must not be negative")
		}
		if vis.Width <= 0 {
			v.errorf(vk("width"), "in points (1/72 inch), e.g. 200", "must be larger than zero")
		}
		if vis.Height <= 0 {
			v.errorf(vk("height"), "in points (1/72 inch), e.g. 50", "must be larger than zero")
		}
		return
	case LocationSignField:
		if strings.TrimSpace(vis.Field) == "" {
			v.errorf(vk("field"), `name the PDF's existing signature field, e.g. field = "Signature1"`, `is required with location = "sign_field"`)
		}
	case LocationPlaceholder:
		switch {
		case vis.Placeholder == "":
			v.errorf(vk("placeholder"), `a word that occurs once in each document, e.g. placeholder = "[SIGNATURE]"; a document without it fails`, `is required with location = "placeholder"`)
		case strings.IndexFunc(vis.Placeholder, unicode.IsSpace) >= 0:
			v.errorf(vk("placeholder"), `a single word that occurs once in each document, e.g. "[SIGNATURE]"`, "must be one word, without spaces")
		}
	}
	if vis.Width < 0 {
		v.errorf(vk("width"), "in points (1/72 inch); 0 leaves the size to the backend", "must not be negative")
	}
	if vis.Height < 0 {
		v.errorf(vk("height"), "in points (1/72 inch); 0 leaves the size to the backend", "must not be negative")
	}
}

func (v *validator) signature(k func(string) string, f *Folder) {
	s := f.Signature
	key := func(x string) string { return joinKey(k("signature"), x) }
	v.oneOf(key("type"), s.Type, "auto", "pades", "xades", "cades")
	if vis := s.Visible; vis != nil {
		vk := func(x string) string { return joinKey(key("visible"), x) }
		if s.Type == "xades" || s.Type == "cades" {
			v.errorf(key("visible"), `remove visible, or use type = "pades" or "auto"`, "visible signatures exist only in PDFs (PAdES)")
		}
		v.visible(vk, vis)
		if b := v.c.Backends[f.Backend]; b != nil && b.Type == TypeLocal && vis.Location != "" && vis.Location != LocationCoordinate {
			v.errorf(vk("location"), `use location = "coordinate" with page, x, y, width and height, or a signstash backend`, "backend %q (local) places visible signatures by coordinate only", b.Name)
		}
	}
	if b := v.c.Backends[f.Backend]; s.Timestamp && b != nil && b.Type == TypeLocal && b.TSAURL == "" {
		v.errorf(key("timestamp"), fmt.Sprintf("set tsa_url in [backends.%s], or set timestamp = false", b.Name), "needs a timestamp authority, and backend %q has no tsa_url", b.Name)
	}
}

// crossFolders checks the folder sets against each other: an inbox serves
// one folder, and no folder writes into any inbox.
func (v *validator) crossFolders() {
	fs := v.c.Folders
	for i, f := range fs {
		if f.Inbox == "" {
			continue
		}
		for j, g := range fs {
			gk := indexKey("folders", j)
			if j != i && g.Inbox != "" {
				switch {
				case j > i && samePath(f.Inbox, g.Inbox):
					v.errorf(joinKey(gk, "inbox"), "give every folder its own inbox", "is also the inbox of folders[%d] (%s)", i, f.Name)
				case f.Recursive && !samePath(f.Inbox, g.Inbox) && within(g.Inbox, f.Inbox):
					v.errorf(joinKey(gk, "inbox"), "move it out, or set recursive = false on folders["+fmt.Sprint(i)+"]", "lies inside the recursive inbox of folders[%d] (%s)", i, f.Name)
				}
			}
			for _, r := range roles(g)[1:] {
				if r.path == "" || !within(r.path, f.Inbox) || (j == i && samePath(r.path, f.Inbox)) {
					continue // the same-folder case is reported as "same directory"
				}
				v.errorf(joinKey(gk, r.key), "keep it outside every inbox, or the agent would pick up its own files", "lies in the inbox of folders[%d] (%s)", i, f.Name)
			}
		}
	}
}

// samePath reports whether a and b name the same directory, ignoring case
// where the usual filesystem does.
func samePath(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		path, dir = strings.ToLower(path), strings.ToLower(dir)
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}
