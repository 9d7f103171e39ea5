package signstash_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/signstash/sim"
)

// springfox is an OpenAPI 2 document as Springfox writes it for the
// Integration Service: a basePath, paths with trailing slashes on the sign
// calls, parameters named as the generated clients name them.
const springfox = `{
  "swagger": "2.0",
  "info": {"description": "SignStash Integration REST API", "version": "v0", "title": "SignStash Integration REST API",
           "contact": {"email": "signstash@multicert.com"}},
  "host": "staging.must.digital",
  "basePath": "/signstash/einvoice-integration-ws",
  "tags": [{"name": "document-sign-controller"}, {"name": "operation-management-controller"}],
  "paths": {
    "/api/v0/document/sign/base64/": {"post": {"tags": ["document-sign-controller"], "operationId": "signBase64DocumentUsingPOST",
        "consumes": ["application/json"], "produces": ["application/json"],
        "parameters": [{"in": "body", "name": "signRequest", "required": true, "schema": {"$ref": "#/definitions/SignRequestBase64Document"}}],
        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/SignOperation"}}}}},
    "/api/v0/document/sign/": {"post": {"tags": ["document-sign-controller"], "operationId": "signDocumentUsingPOST",
        "consumes": ["multipart/form-data"],
        "parameters": [{"in": "formData", "name": "files", "type": "file", "required": true},
                       {"in": "formData", "name": "signRequest", "type": "string", "required": true}],
        "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/id/withDocumentExternalReference/{externalReference}": {"get": {"operationId": "getOperationIdUsingGET",
        "parameters": [{"in": "path", "name": "externalReference", "type": "string", "required": true}],
        "responses": {"200": {"description": "OK", "schema": {"type": "integer", "format": "int64"}}}}},
    "/api/v0/operation/sign/detail/{operationId}/contentInResponse/{includeContent}": {"get": {"operationId": "getSignOperationDetailUsingGET",
        "parameters": [{"in": "path", "name": "operationId", "type": "integer", "format": "int64", "required": true},
                       {"in": "path", "name": "includeContent", "type": "boolean", "required": true}],
        "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/sign/detail/{operationId}/documents": {"get": {"operationId": "getSignOperationDocumentsUsingGET",
        "produces": ["application/zip"], "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/status/{operationId}": {"get": {"operationId": "getOperationStatusUsingGET", "responses": {"200": {"description": "OK"}}}},
    "/api/v0/delivery/mail/resend/{operationId}/{attachDocuments}": {"post": {"operationId": "resendUsingPOST", "responses": {"200": {"description": "OK"}}}}
  },
  "definitions": {"SignOperation": {"type": "object"}, "SignRequestBase64Document": {"type": "object"}}
}`

// springdoc is an OpenAPI 3 document as springdoc writes it for a proxy:
// servers carry the context path; the async calls are not where the
// client's defaults guess them, and the status call is offered only as
// POST.
const springdoc = `{
  "openapi": "3.0.1",
  "info": {"title": "SignStash Integration REST API", "version": "v0"},
  "servers": [{"url": "http://10.0.0.5:8081/signstash/einvoice-integration-client-ws", "description": "Generated server url"}],
  "security": [{"bearer-jwt": []}],
  "paths": {
    "/api/v0/document/sign/base64": {"post": {"tags": ["document-sign-controller"], "operationId": "signBase64Document",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignRequestBase64Document"}}}, "required": true},
        "responses": {"200": {"description": "OK"}}}},
    "/api/v0/async/sign/base64": {"post": {"operationId": "registerAsync", "responses": {"202": {"description": "Accepted"}}}},
    "/api/v0/async/sign/status/{externalReference}": {"get": {"operationId": "asyncStatus",
        "parameters": [{"name": "externalReference", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK"}}}},
    "/api/v0/async/operation/{externalReference}": {"get": {"operationId": "asyncResult", "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/id/withDocumentExternalReference/{ref}": {"get": {"operationId": "lookup", "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/status/{operationId}": {"post": {"operationId": "status", "responses": {"200": {"description": "OK"}}}},
    "/api/v0/operation/sign/detail/{operationId}/contentInResponse/{includeContent}": {"get": {"operationId": "detail", "responses": {"200": {"description": "OK"}}}}
  },
  "components": {"schemas": {"SignRequestBase64Document": {"type": "object"}},
                 "securitySchemes": {"bearer-jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}
}`

// docServer serves the emulator, and doc at path (relative to the
// service's context path) on top of it.
func docServer(t *testing.T, e *env, path, doc string) *httptest.Server {
	t.Helper()
	emu := e.cluster.Instances[0].Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/"+path) {
			if r.Header.Get("Authorization") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(doc))
			return
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestCheckComparesOpenAPI(t *testing.T) {
	for _, c := range []struct {
		name, path, doc, service string
		mod                      func(*signstash.Config)
		listed                   string   // in Describe
		diffs                    []string // each in one finding
	}{
		{name: "springfox saas base64", path: "v2/api-docs", doc: springfox, service: "einvoice-integration-ws",
			listed: "OpenAPI v2/api-docs (2.0): 4 of 4 calls listed"},
		{name: "springfox saas multipart", path: "v2/api-docs", doc: springfox, service: "einvoice-integration-ws",
			mod:    func(c *signstash.Config) { c.Transport = signstash.TransportMultipart },
			listed: "OpenAPI v2/api-docs (2.0): 5 of 5 calls listed"},
		{name: "springfox literal content flag", path: "v2/api-docs", doc: springfox, service: "einvoice-integration-ws",
			mod: func(c *signstash.Config) {
				c.Paths = map[string]string{"detail": "api/v0/operation/sign/detail/{operationId}/contentInResponse/true"}
			},
			listed: "4 of 4 calls listed"},
		{name: "springdoc proxy", path: "v3/api-docs", doc: springdoc, service: "einvoice-integration-client-ws",
			listed: "OpenAPI v3/api-docs (3.0.1): 4 of 7 calls listed",
			diffs: []string{
				"async_register: POST api/v0/async/document/sign/base64 is not listed; nearest listed: api/v0/async/sign/base64 (set paths.async_register)",
				"async_status: GET api/v0/async/operation/status/{externalReference} is not listed; nearest listed: api/v0/async/sign/status/{externalReference} (set paths.async_status)",
				"status: GET api/v0/operation/status/{operationId} is listed only for POST",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 1, sim.Config{}, nil)
			ts := docServer(t, e, c.path, c.doc)
			cfg := e.cfg
			cfg.BaseURL = ts.URL + "/signstash/" + c.service
			if c.mod != nil {
				c.mod(&cfg)
			}
			client, err := signstash.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := client.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := client.Describe(); !strings.Contains(d, c.listed) {
				t.Errorf("describe: %s\nwant %q", d, c.listed)
			}
			findings := client.Findings()
			if len(findings) != len(c.diffs) {
				t.Errorf("%d findings, want %d:\n%s", len(findings), len(c.diffs), strings.Join(findings, "\n"))
			}
			for _, want := range c.diffs {
				found := false
				for _, f := range findings {
					found = found || strings.HasSuffix(f, want)
				}
				if !found {
					t.Errorf("no finding %q in:\n%s", want, strings.Join(findings, "\n"))
				}
			}
		})
	}
}

// TestCheckWithoutOpenAPI: a server that publishes no document is said to
// have none, and nothing is compared.
func TestCheckWithoutOpenAPI(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	if err := e.client.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := e.client.Describe(); !strings.Contains(d, "no OpenAPI document (v3/api-docs: HTTP 404; v2/api-docs: HTTP 404)") {
		t.Fatalf("describe: %s", d)
	}
	if f := e.client.Findings(); len(f) != 0 {
		t.Fatalf("findings: %v", f)
	}
}

// TestCheckBusinessAPIShape: a base URL where something else answers (a
// web server's 404 page for every path) is not the service: check says so.
func TestCheckBusinessAPIShape(t *testing.T) {
	e := newEnv(t, 1, sim.Config{}, nil)
	emu := e.cluster.Instances[0].Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/oauth/token") {
			emu.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body><h1>404 Not Found</h1></body></html>"))
	}))
	defer ts.Close()
	cfg := e.cfg
	cfg.BaseURL = ts.URL + "/signstash/einvoice-integration-client-ws"
	client, err := signstash.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := client.Findings()
	if len(f) != 1 || !strings.Contains(f[0], "error shape") {
		t.Fatalf("findings: %v", f)
	}
	// The emulator itself answers in the service's shape.
	if err := e.client.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f := e.client.Findings(); len(f) != 0 {
		t.Fatalf("findings for the emulator: %v", f)
	}
}
