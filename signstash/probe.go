package signstash

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/signagent/signagent/signstash/internal/wire"
)

// The service is a Spring Boot application with a Swagger UI: its OpenAPI
// document is where springdoc (v3) or Springfox (v2) publish it, relative
// to the context path.
var apiDocPaths = []string{"v3/api-docs", "v2/api-docs"}

// apiDocs is what check learnt from the server's OpenAPI document.
type apiDocs struct {
	url     string   // where the document was read; "" when none was
	version string   // its openapi or swagger version
	matched []string // templates the document lists, with their method
	diffs   []string // templates it does not list, or not with the method used
	note    string   // why no document was read
}

// openAPI is the part of an OpenAPI 2 or 3 document the comparison reads.
type openAPI struct {
	OpenAPI  string                                `json:"openapi"`
	Swagger  string                                `json:"swagger"`
	BasePath string                                `json:"basePath"`
	Servers  []struct{ URL string }                `json:"servers"`
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
}

// parseOpenAPI reads an OpenAPI 2 or 3 document (JSON).
func parseOpenAPI(b []byte) (*openAPI, error) {
	var d openAPI
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	if d.OpenAPI == "" && d.Swagger == "" {
		return nil, fmt.Errorf("neither an openapi nor a swagger version")
	}
	if len(d.Paths) == 0 {
		return nil, fmt.Errorf("no paths")
	}
	return &d, nil
}

// callMethod is the method the client uses for a path template.
func callMethod(name string) string {
	switch name {
	case wire.PathSyncSign, wire.PathAsyncRegister, wire.PathMultipartSign, wire.PathAsyncRegisterFiles:
		return http.MethodPost
	}
	return http.MethodGet
}

// usedTemplates are the templates this client calls: the operation
// management calls always, the sign call of its transport, and on a proxy
// the async calls.
func (c *Client) usedTemplates() []string {
	names := []string{wire.PathLookup, wire.PathStatus, wire.PathDetail}
	if c.multipart() {
		names = append(names, wire.PathMultipartSign, wire.PathDocumentsZip)
	} else {
		names = append(names, wire.PathSyncSign)
	}
	if !c.saas && c.cfg.Mode != ModeSync {
		reg := wire.PathAsyncRegister
		if c.multipart() {
			reg = wire.PathAsyncRegisterFiles
		}
		names = append(names, reg, wire.PathAsyncStatus, wire.PathAsyncResult)
	}
	sort.Strings(names)
	return names
}

// readAPIDocs fetches the server's OpenAPI document, if it publishes one,
// and compares the path templates in use with it.
func (c *Client) readAPIDocs(ctx context.Context, tok string) *apiDocs {
	out := &apiDocs{}
	var notes []string
	for _, p := range apiDocPaths {
		u := c.endpointURL("", p, nil)
		b, err := c.getDoc(ctx, u, tok)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		doc, err := parseOpenAPI(b)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s: not an OpenAPI document (%v)", p, err))
			continue
		}
		out.url, out.version = u, doc.OpenAPI+doc.Swagger
		tmpls := map[string]string{}
		for _, name := range c.usedTemplates() {
			tmpls[name] = c.paths[name]
		}
		out.matched, out.diffs = comparePaths(doc, c.base.Path, tmpls)
		return out
	}
	out.note = strings.Join(notes, "; ")
	return out
}

// getDoc GETs a small document (at most 8 MB) with the bearer token.
func (c *Client) getDoc(ctx context.Context, u, tok string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer")
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("answer cut: %v", err)
	}
	return b, nil
}

// comparePaths compares path templates (name → template relative to the
// base path basePath) with an OpenAPI document. A template matches a
// documented path with the same segments, a placeholder matching any
// placeholder or (where the configuration writes a value, as in
// …/contentInResponse/true) any value; trailing and repeated slashes do not
// count, as the service tolerates them. The document's paths may be
// written relative to its own base (v2 basePath, v3 servers) or to the
// host. It returns one line per template: listed (with its method) or a
// difference, with the nearest documented paths.
func comparePaths(doc *openAPI, basePath string, tmpls map[string]string) (matched, diffs []string) {
	prefixes := []string{"", strings.Trim(basePath, "/"), strings.Trim(doc.BasePath, "/")}
	for _, s := range doc.Servers {
		if u, err := url.Parse(s.URL); err == nil {
			prefixes = append(prefixes, strings.Trim(u.Path, "/"))
		}
	}
	// Documented paths, relative: every reading of each.
	type entry struct {
		path    string
		segs    []string
		methods []string
	}
	var entries []entry
	for p, ops := range doc.Paths {
		var methods []string
		for m := range ops {
			switch m = strings.ToUpper(m); m {
			case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
				methods = append(methods, m)
			}
		}
		sort.Strings(methods)
		clean := strings.Trim(wire.CleanPath(p), "/")
		seen := map[string]bool{}
		for _, pre := range prefixes {
			rel := clean
			if pre != "" {
				if rel != pre && !strings.HasPrefix(rel, pre+"/") {
					continue
				}
				rel = strings.TrimPrefix(strings.TrimPrefix(rel, pre), "/")
			}
			if !seen[rel] {
				seen[rel] = true
				entries = append(entries, entry{rel, strings.Split(rel, "/"), methods})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	names := make([]string, 0, len(tmpls))
	for n := range tmpls {
		names = append(names, n)
	}
	sort.Strings(names)
	// First the templates the document lists; the paths they use are no
	// suggestion for the others.
	type result struct {
		tmpl, method string
		segs         []string
		found        bool
		wrongMethod  []string
	}
	results := map[string]*result{}
	used := map[string]bool{}
	for _, name := range names {
		tmpl := strings.Trim(wire.CleanPath(tmpls[name]), "/")
		r := &result{tmpl: tmpl, method: callMethod(name), segs: strings.Split(tmpl, "/")}
		results[name] = r
		for _, e := range entries {
			if !segsMatch(r.segs, e.segs) {
				continue
			}
			if slices.Contains(e.methods, r.method) {
				r.found, used[e.path] = true, true
				break
			}
			r.wrongMethod = e.methods
		}
	}
	for _, name := range names {
		r := results[name]
		tmpl, segs, method := r.tmpl, r.segs, r.method
		switch {
		case r.found:
			matched = append(matched, fmt.Sprintf("%s %s %s", name, method, tmpl))
		case r.wrongMethod != nil:
			diffs = append(diffs, fmt.Sprintf("%s: %s %s is listed only for %s", name, method, tmpl, strings.Join(r.wrongMethod, ", ")))
		default:
			d := fmt.Sprintf("%s: %s %s is not listed", name, method, tmpl)
			var near []string
			best := 0
			for _, e := range entries {
				if !slices.Contains(e.methods, method) || used[e.path] {
					continue
				}
				switch s := similarity(segs, e.segs); {
				case s > best:
					best, near = s, []string{e.path}
				case s == best && s > 0:
					near = append(near, e.path)
				}
			}
			if best > 0 && len(near) <= 3 {
				d += "; nearest listed: " + strings.Join(near, ", ") + " (set paths." + name + ")"
			}
			diffs = append(diffs, d)
		}
	}
	return matched, diffs
}

func isPlaceholder(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

func segsMatch(tmpl, doc []string) bool {
	if len(tmpl) != len(doc) {
		return false
	}
	for i := range tmpl {
		if tmpl[i] != doc[i] && !isPlaceholder(doc[i]) {
			return false
		}
		if isPlaceholder(tmpl[i]) && !isPlaceholder(doc[i]) {
			return false
		}
	}
	return true
}

// similarity counts the leading and trailing segments two paths share
// (placeholders count as equal to each other).
func similarity(a, b []string) int {
	eq := func(x, y string) bool { return x == y || isPlaceholder(x) && isPlaceholder(y) }
	n := 0
	for n < len(a) && n < len(b) && eq(a[n], b[n]) {
		n++
	}
	m := 0
	for m < len(a)-n && m < len(b)-n && eq(a[len(a)-1-m], b[len(b)-1-m]) {
		m++
	}
	// Only the shared api/v0 prefix is no likeness.
	if n+m <= 2 {
		return 0
	}
	return n + m
}

// Findings are what the last Check found worth a warning: a business API
// that did not answer in the service's error shape, and the path
// templates the server's OpenAPI document does not list.
func (c *Client) Findings() []string {
	c.offersMu.Lock()
	defer c.offersMu.Unlock()
	out := append([]string(nil), c.findings...)
	if d := c.docs; d != nil && d.url != "" {
		for _, diff := range d.diffs {
			out = append(out, "the server's OpenAPI document ("+d.url+") differs: "+diff)
		}
	}
	return out
}

// describeDocs says, for Describe, what the OpenAPI comparison found.
func (d *apiDocs) describe() string {
	switch {
	case d == nil:
		return ""
	case d.url == "":
		return "; no OpenAPI document (" + d.note + ")"
	}
	n := len(d.matched) + len(d.diffs)
	return fmt.Sprintf("; OpenAPI %s (%s): %d of %d calls listed", d.url[strings.LastIndex(d.url, "/v")+1:], d.version, len(d.matched), n)
}
