package wire

import (
	"fmt"
	"net/url"
	"path"
	"slices"
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
	// The multipart transport: the binary sign call, its asynchronous
	// register call on the proxy, and the ZIP of an operation's documents.
	PathMultipartSign      = "multipart_sign"
	PathAsyncRegisterFiles = "async_register_multipart"
	PathDocumentsZip       = "documents_zip"
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
	PathMultipartSign: "api/v0/document/sign",
	// Not published either: the base64 register path without its /base64,
	// as the two sync calls differ.
	PathAsyncRegisterFiles: "api/v0/async/document/sign",
	PathDocumentsZip:       "api/v0/operation/sign/detail/{operationId}/documents",
}

// Placeholders each template may hold, and must hold: the client fills
// only these. A detail template may write its content flag literally
// (…/contentInResponse/true), as the example configuration does.
var placeholders = map[string]struct{ required, optional []string }{
	PathSyncSign:           {},
	PathAsyncRegister:      {},
	PathAsyncStatus:        {required: []string{"externalReference"}},
	PathAsyncResult:        {required: []string{"externalReference"}},
	PathLookup:             {required: []string{"externalReference"}},
	PathStatus:             {required: []string{"operationId"}},
	PathDetail:             {required: []string{"operationId"}, optional: []string{"includeContent"}},
	PathMultipartSign:      {},
	PathAsyncRegisterFiles: {},
	PathDocumentsZip:       {required: []string{"operationId"}},
}

// PathNames lists the template names, sorted.
func PathNames() []string {
	out := make([]string, 0, len(DefaultPaths))
	for k := range DefaultPaths {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckPath reports what is wrong with template v for name: an unknown
// name, an empty template, a URL or a query instead of a path, a "." or
// ".." segment, a placeholder that is not a whole segment, unknown for
// this template or missing.
func CheckPath(name, v string) error {
	ph, ok := placeholders[name]
	if !ok {
		return fmt.Errorf("unknown path template %q (known: %s)", name, strings.Join(PathNames(), ", "))
	}
	v = strings.Trim(v, "/")
	switch {
	case v == "":
		return fmt.Errorf("is empty")
	case strings.Contains(v, "://"):
		return fmt.Errorf("%q is not a path template but a URL: write a path relative to base_url", v)
	case strings.ContainsAny(v, " \t\r\n\\?#"):
		return fmt.Errorf("%q is not a path (no spaces, backslashes, query or fragment)", v)
	}
	seen := map[string]bool{}
	for _, seg := range strings.Split(v, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q has a %q segment", v, seg)
		}
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
		if len(name)+2 != len(seg) || strings.ContainsAny(name, "{}") {
			return fmt.Errorf("%q: a placeholder must be a whole segment, e.g. /{externalReference}/", v)
		}
		if !slices.Contains(ph.required, name) && !slices.Contains(ph.optional, name) {
			allowed := append(append([]string{}, ph.required...), ph.optional...)
			if len(allowed) == 0 {
				return fmt.Errorf("%q: this call takes no placeholder, not {%s}", v, name)
			}
			return fmt.Errorf("%q: {%s} is not a placeholder of this call (it takes {%s})", v, name, strings.Join(allowed, "}, {"))
		}
		seen[name] = true
	}
	for _, r := range ph.required {
		if !seen[r] {
			return fmt.Errorf("%q lacks the placeholder {%s}", v, r)
		}
	}
	return nil
}

// Paths merges overrides into the defaults, checking each with CheckPath.
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
		if err := CheckPath(k, overrides[k]); err != nil {
			return nil, fmt.Errorf("path template %s: %w", k, err)
		}
		out[k] = strings.Trim(overrides[k], "/")
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
