package signstash

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/signagent/signagent/signstash/internal/wire"
)

// FuzzComparePaths: any document path and template compare without a
// panic, and a template is always found in a document that lists it (with
// slashes added anywhere the service tolerates them).
func FuzzComparePaths(f *testing.F) {
	f.Add("api/v0/operation/status/{operationId}", "/api/v0/operation/status/{id}/", "/base")
	f.Add("api/v0/document/sign/base64", "//api//v0/document/sign/base64/", "")
	f.Add("a/{b}/c", "/x/{y}", "/x")
	f.Fuzz(func(t *testing.T, tmpl, docPath, base string) {
		doc := &openAPI{OpenAPI: "3.0.1", BasePath: base, Paths: map[string]map[string]json.RawMessage{docPath: {"get": nil}}}
		comparePaths(doc, base, map[string]string{"status": tmpl})
		clean := strings.Trim(tmpl, "/")
		if clean == "" || wire.CleanPath("/"+clean) != "/"+clean {
			return // a path the service would read as another
		}
		doc.Paths = map[string]map[string]json.RawMessage{"/" + clean + "/": {"get": nil}}
		m, d := comparePaths(doc, "", map[string]string{"status": clean})
		if len(m) != 1 || len(d) != 0 {
			t.Fatalf("template %q not found in a document listing it: %v %v", clean, m, d)
		}
	})
}
