package config

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// decoder turns the generic TOML tree into a Config, collecting every
// problem instead of stopping at the first, and naming each by its key path.
// Each table starts from its defaults, so a key left out keeps its default
// and a key written explicitly keeps the value written (even 0 or "").
type decoder struct {
	file     string
	lines    map[string]int
	problems []Problem
}

func (d *decoder) add(p Problem) {
	p.File = d.file
	p.Line = lineOf(d.lines, p.Key)
	d.problems = append(d.problems, p)
}

func (d *decoder) errorf(key, hint, format string, args ...any) {
	d.add(problemf(key, hint, format, args...))
}

// Keys by table, for unknown-key suggestions.
var (
	topKeys = []string{"data_dir", "log_level", "log_format", "listen", "ui_actions", "ledger_retention", "backup_interval", "backup_keep",
		"backends", "folders"}
	backendKeys = []string{"type", "certificate", "key_file", "password_file", "tsa_url", "max_size", "workers",
		"base_url", "token_url", "client_id", "client_secret_file", "client_secret_env", "mode", "sync_max_files",
		"ca_file", "timeout", "poll_interval", "paths", "instances", "service", "instance_scheme", "http_proxy"}
	folderKeys = []string{"name", "inbox", "outbox", "error", "archive", "include", "exclude", "recursive", "backend",
		"settle", "scan_interval", "max_files", "max_bytes", "max_wait", "on_collision", "done_marker",
		"give_up_after", "archive_retention", "signature"}
	signatureKeys = []string{"type", "reason", "location", "name", "timestamp", "visible"}
	visibleKeys   = []string{"page", "x", "y", "width", "height"}
)

// unknown reports a key the configuration does not have.
func (d *decoder) unknown(key, name string, known []string) {
	hint := "remove it, or check its spelling and its table against config.example.toml"
	if s := suggest(name, known); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	d.errorf(key, hint, "unknown key %q", name)
}

// sortedKeys returns m's keys in file order (then by name), so problems and
// backends come out in a stable order.
func (d *decoder) sortedKeys(prefix string, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := lineOf(d.lines, joinKey(prefix, keys[i])), lineOf(d.lines, joinKey(prefix, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func (d *decoder) config(raw map[string]any) *Config {
	c := Default()
	backendsSet := false
	var folders []any
	for _, k := range d.sortedKeys("", raw) {
		v, key := raw[k], joinKey("", k)
		switch k {
		case "data_dir":
			d.str(key, v, &c.DataDir)
		case "log_level":
			d.str(key, v, &c.LogLevel)
		case "log_format":
			d.str(key, v, &c.LogFormat)
		case "listen":
			d.str(key, v, &c.Listen)
		case "ui_actions":
			d.boolean(key, v, &c.UIActions)
		case "ledger_retention":
			d.duration(key, v, &c.LedgerRetention)
		case "backup_interval":
			d.duration(key, v, &c.BackupInterval)
		case "backup_keep":
			d.integer(key, v, &c.BackupKeep)
		case "backends":
			m, ok := d.table(key, v)
			if !ok {
				continue
			}
			backendsSet = true
			c.Backends = map[string]*Backend{}
			for _, name := range d.sortedKeys(key, m) {
				bkey := joinKey(key, name)
				bm, ok := d.table(bkey, m[name])
				if !ok {
					continue
				}
				c.Backends[name] = d.backend(bkey, name, bm)
			}
		case "folders":
			folders, _ = d.tables(key, v)
		default:
			d.unknown(key, k, topKeys)
		}
	}
	if backendsSet && len(c.Backends) == 0 {
		d.errorf("backends", `add one, e.g. [backends.local] with type = "local"`, "no backend is configured")
	}
	for i, v := range folders {
		key := indexKey("folders", i)
		m, ok := d.table(key, v)
		if !ok {
			continue
		}
		c.Folders = append(c.Folders, d.folder(key, m, c.Backends))
	}
	return c
}

func (d *decoder) backend(key, name string, m map[string]any) *Backend {
	typ := ""
	if v, ok := m["type"]; ok {
		d.str(joinKey(key, "type"), v, &typ)
	}
	b := defaultBackend(name, typ)
	for _, k := range d.sortedKeys(key, m) {
		v, kk := m[k], joinKey(key, k)
		switch k {
		case "type":
		case "certificate":
			d.str(kk, v, &b.Certificate)
		case "key_file":
			d.str(kk, v, &b.KeyFile)
		case "password_file":
			d.str(kk, v, &b.PasswordFile)
		case "tsa_url":
			d.str(kk, v, &b.TSAURL)
		case "max_size":
			d.size(kk, v, &b.MaxSize)
		case "workers":
			d.integer(kk, v, &b.Workers)
		case "base_url":
			d.str(kk, v, &b.BaseURL)
		case "token_url":
			d.str(kk, v, &b.TokenURL)
		case "client_id":
			d.str(kk, v, &b.ClientID)
		case "client_secret_file":
			d.str(kk, v, &b.ClientSecretFile)
		case "client_secret_env":
			d.str(kk, v, &b.ClientSecretEnv)
		case "mode":
			d.str(kk, v, &b.Mode)
		case "sync_max_files":
			d.integer(kk, v, &b.SyncMaxFiles)
		case "ca_file":
			d.str(kk, v, &b.CAFile)
		case "timeout":
			d.duration(kk, v, &b.Timeout)
		case "poll_interval":
			d.duration(kk, v, &b.PollInterval)
		case "instances":
			d.strings(kk, v, &b.Instances)
		case "service":
			d.str(kk, v, &b.Service)
		case "instance_scheme":
			d.str(kk, v, &b.InstanceScheme)
		case "http_proxy":
			d.str(kk, v, &b.HTTPProxy)
		case "paths":
			pm, ok := d.table(kk, v)
			if !ok {
				continue
			}
			b.Paths = map[string]string{}
			for _, pk := range d.sortedKeys(kk, pm) {
				var s string
				if d.str(joinKey(kk, pk), pm[pk], &s) {
					b.Paths[pk] = s
				}
			}
		case "client_secret", "secret", "password", "client_password":
			// Never echo the value: it is a secret.
			d.errorf(kk, "put the secret in a file readable only by the service account and set client_secret_file, or name an environment variable with client_secret_env",
				"secrets are not accepted in the config file")
		default:
			d.unknown(kk, k, backendKeys)
		}
	}
	return b
}

func (d *decoder) folder(key string, m map[string]any, backends map[string]*Backend) *Folder {
	f := DefaultFolder()
	if len(backends) == 1 {
		for name := range backends {
			f.Backend = name
		}
	}
	for _, k := range d.sortedKeys(key, m) {
		v, kk := m[k], joinKey(key, k)
		switch k {
		case "name":
			d.str(kk, v, &f.Name)
		case "inbox":
			d.str(kk, v, &f.Inbox)
		case "outbox":
			d.str(kk, v, &f.Outbox)
		case "error":
			d.str(kk, v, &f.Error)
		case "archive":
			d.str(kk, v, &f.Archive)
		case "include":
			d.strings(kk, v, &f.Include)
		case "exclude":
			d.strings(kk, v, &f.Exclude)
		case "recursive":
			d.boolean(kk, v, &f.Recursive)
		case "backend":
			d.str(kk, v, &f.Backend)
		case "settle":
			d.duration(kk, v, &f.Settle)
		case "scan_interval":
			d.duration(kk, v, &f.ScanInterval)
		case "max_files":
			d.integer(kk, v, &f.MaxFiles)
		case "max_bytes":
			d.size(kk, v, &f.MaxBytes)
		case "max_wait":
			d.duration(kk, v, &f.MaxWait)
		case "on_collision":
			d.str(kk, v, &f.OnCollision)
		case "done_marker":
			d.boolean(kk, v, &f.DoneMarker)
		case "give_up_after":
			d.duration(kk, v, &f.GiveUpAfter)
		case "archive_retention":
			d.duration(kk, v, &f.ArchiveRetention)
		case "signature":
			if sm, ok := d.table(kk, v); ok {
				d.signature(kk, sm, &f.Signature)
			}
		default:
			d.unknown(kk, k, folderKeys)
		}
	}
	return f
}

func (d *decoder) signature(key string, m map[string]any, s *Signature) {
	for _, k := range d.sortedKeys(key, m) {
		v, kk := m[k], joinKey(key, k)
		switch k {
		case "type":
			d.str(kk, v, &s.Type)
		case "reason":
			d.str(kk, v, &s.Reason)
		case "location":
			d.str(kk, v, &s.Location)
		case "name":
			d.str(kk, v, &s.Name)
		case "timestamp":
			d.boolean(kk, v, &s.Timestamp)
		case "visible":
			vm, ok := d.table(kk, v)
			if !ok {
				continue
			}
			s.Visible = &Visible{}
			for _, vk := range d.sortedKeys(kk, vm) {
				vv, vkk := vm[vk], joinKey(kk, vk)
				switch vk {
				case "page":
					d.integer(vkk, vv, &s.Visible.Page)
				case "x":
					d.float(vkk, vv, &s.Visible.X)
				case "y":
					d.float(vkk, vv, &s.Visible.Y)
				case "width":
					d.float(vkk, vv, &s.Visible.Width)
				case "height":
					d.float(vkk, vv, &s.Visible.Height)
				default:
					d.unknown(vkk, vk, visibleKeys)
				}
			}
		default:
			d.unknown(kk, k, signatureKeys)
		}
	}
}

// Typed leaves. Each reports a wrong type without echoing the value, which
// might be a secret typed into the wrong key.

func (d *decoder) wrongType(key, want string, v any) {
	d.errorf(key, "", "must be %s, not %s", want, tomlType(v))
}

func (d *decoder) str(key string, v any, dst *string) bool {
	s, ok := v.(string)
	if !ok {
		d.wrongType(key, "a string", v)
		return false
	}
	*dst = s
	return true
}

func (d *decoder) boolean(key string, v any, dst *bool) {
	b, ok := v.(bool)
	if !ok {
		d.wrongType(key, "true or false", v)
		return
	}
	*dst = b
}

func (d *decoder) integer(key string, v any, dst *int) {
	n, ok := v.(int64)
	if !ok || n > math.MaxInt32 || n < math.MinInt32 {
		if ok {
			d.errorf(key, "", "%d is out of range", n)
		} else {
			d.wrongType(key, "an integer", v)
		}
		return
	}
	*dst = int(n)
}

func (d *decoder) float(key string, v any, dst *float64) {
	switch n := v.(type) {
	case float64:
		*dst = n
	case int64:
		*dst = float64(n)
	default:
		d.wrongType(key, "a number", v)
	}
}

func (d *decoder) strings(key string, v any, dst *[]string) {
	arr, ok := v.([]any)
	if !ok {
		d.wrongType(key, `an array of strings, e.g. ["*.pdf"]`, v)
		return
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.wrongType(indexKey(key, i), "a string", e)
			continue
		}
		out = append(out, s)
	}
	*dst = out
}

func (d *decoder) duration(key string, v any, dst *Duration) {
	s, ok := v.(string)
	if !ok {
		hint := `write durations as quoted strings, e.g. "30s", "5m", "24h" or "90d"`
		if n, isInt := v.(int64); isInt {
			hint = fmt.Sprintf(`write durations as quoted strings with a unit, e.g. "%ds"`, n)
		}
		d.errorf(key, hint, "must be a duration string, not %s", tomlType(v))
		return
	}
	t, err := parseDuration(s)
	if err != nil {
		d.errorf(key, "", "%v", err)
		return
	}
	dst.Duration = t
}

func (d *decoder) size(key string, v any, dst *Size) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			d.errorf(key, "", "size %d is negative", x)
			return
		}
		*dst = Size(x)
	case string:
		n, err := parseSize(x)
		if err != nil {
			d.errorf(key, "", "%v", err)
			return
		}
		*dst = n
	default:
		d.errorf(key, `e.g. "20MB" or 20000000`, "must be a size, not %s", tomlType(v))
	}
}

// table expects a TOML table.
func (d *decoder) table(key string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, "a table", v)
	}
	return m, ok
}

// tables expects an array of tables.
func (d *decoder) tables(key string, v any) ([]any, bool) {
	switch x := v.(type) {
	case []map[string]any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out, true
	case []any:
		return x, true
	default:
		d.errorf(key, fmt.Sprintf("write each one as [[%s]]", key), "must be an array of tables, not %s", tomlType(v))
		return nil, false
	}
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case map[string]any:
		return "a table"
	case []map[string]any, []any:
		return "an array"
	default:
		return "a date or time"
	}
}

// suggest returns the known name closest to name, if it is close enough to
// be a typo.
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dd := editDistance(name, k); dd < bestD {
			best, bestD = k, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
