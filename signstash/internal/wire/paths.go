package wire

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Base paths of the two Sign'Stash services. The emulator serves both.
const (
	SaaSPrefix  = "/signstash/einvoice-integration-ws"
	ProxyPrefix = "/signstash/einvoice-integration-client-ws"
	TokenPath   = "/oauth2/authorization-server/oauth/token"
)

// Path template names. Templates are relative to a service base path and may
// contain the placeholders {externalReference}, {operationId} and
// {includeContent}.
const (
	PathSyncSign      = "sync_sign"
	PathAsyncRegister = "async_register"
	PathAsyncStatus   = "async_status"
	PathAsyncResult   = "async_result"
	PathLookup        = "lookup"
	PathStatus        = "status"
	PathDetail        = "detail"
)

// DefaultPaths are the path templates used unless configured otherwise. The
// sync and look-up paths are the documented ones; the async paths of the
// proxy are not published and are a best guess, hence configurable.
var DefaultPaths = map[string]string{
	PathSyncSign:      "api/v0/document/sign/base64",
	PathAsyncRegister: "api/v0/async/document/sign/base64",
	PathAsyncStatus:   "api/v0/async/operation/status/{externalReference}",
	PathAsyncResult:   "api/v0/async/operation/{externalReference}",
	PathLookup:        "api/v0/operation/id/withDocumentExternalReference/{externalReference}",
	PathStatus:        "api/v0/operation/status/{operationId}",
	PathDetail:        "api/v0/operation/sign/detail/{operationId}/contentInResponse/{includeContent}",
}

var placeholders = []string{"{externalReference}", "{operationId}", "{includeContent}"}

// Paths merges overrides into the defaults, checking names and placeholders.
func Paths(overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(DefaultPaths))
	for k, v := range DefaultPaths {
		out[k] = v
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := overrides[k]
		def, ok := DefaultPaths[k]
		if !ok {
			return nil, fmt.Errorf("unknown path template %q (known: async_register, async_status, async_result, lookup, status, detail, sync_sign)", k)
		}
		v = strings.Trim(v, "/")
		if v == "" {
			return nil, fmt.Errorf("path template %q is empty", k)
		}
		for _, p := range placeholders {
			if strings.Contains(def, p) != strings.Contains(v, p) {
				return nil, fmt.Errorf("path template %q = %q must contain exactly the placeholders of %q", k, v, def)
			}
		}
		out[k] = v
	}
	return out, nil
}

// Expand fills a template's placeholders; values are path-escaped.
func Expand(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{"+k+"}", url.PathEscape(v))
	}
	return tmpl
}

// Match reports whether the clean relative path p matches tmpl and returns
// the placeholder values (unescaped).
func Match(tmpl, p string) (map[string]string, bool) {
	ts := strings.Split(tmpl, "/")
	ps := strings.Split(p, "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	var vars map[string]string
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			v, err := url.PathUnescape(ps[i])
			if err != nil || v == "" {
				return nil, false
			}
			if vars == nil {
				vars = map[string]string{}
			}
			vars[t[1:len(t)-1]] = v
			continue
		}
		if t != ps[i] {
			return nil, false
		}
	}
	return vars, true
}

// CleanPath collapses duplicate slashes and strips the trailing slash, as the
// service tolerates both.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	return c
}
