package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const testAlias, testSecret = "PRT.505767457-PRT.123654123-84dd8c", "my_secret"

func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Clients == nil {
		cfg.Clients = map[string]Client{testAlias: {Secret: testSecret}}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func token(t *testing.T, ts *httptest.Server, query bool) string {
	t.Helper()
	return tokenQuery(t, ts.URL, query)
}

func tokenAt(t *testing.T, base string) string {
	t.Helper()
	return tokenQuery(t, base, false)
}

func tokenQuery(t *testing.T, base string, query bool) string {
	t.Helper()
	u := base + "/oauth2/authorization-server/oauth/token"
	body := "grant_type=client_credentials"
	if query {
		u, body = u+"?grant_type=client_credentials", ""
	}
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testAlias, testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok["token_type"] != "bearer" || tok["scope"] != "read write" || tok["jti"] == "" || tok["expires_in"].(float64) != 86399 {
		t.Fatalf("token answer %d %v", resp.StatusCode, tok)
	}
	return tok["access_token"].(string)
}

func call(t *testing.T, method, u, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return send(t, req)
}

// send makes req and returns the answer's status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signBody(ref, docRef string) string {
	return `{"externalReference":"` + ref + `","description":"d","returnSignedContent":true,"documents":[{"documentRequest":{"externalReference":"` + docRef +
		`","name":"a.pdf","contentType":"application/pdf","base64Content":"` + base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 test")) +
		`"},"signatureInfo":{"signatureType":"PAdES"}}]}`
}

func TestTokenAndSyncSign(t *testing.T) {
	s, ts := start(t, Config{})
	for _, query := range []bool{false, true} {
		tok := token(t, ts, query)
		// Lowercase scheme, duplicate and trailing slashes.
		st, body := call(t, "POST", ts.URL+"//signstash/einvoice-integration-ws/api/v0/document/sign/base64//", "bearer "+tok, signBody("r"+map[bool]string{true: "q"}[query], "d"+map[bool]string{true: "q"}[query]))
		if st != 200 {
			t.Fatalf("sign: %d %s", st, body)
		}
		var op struct {
			ID           int64
			Status       string
			DocumentList []struct{ SignStatus, SignedContent, SignError string }
		}
		json.Unmarshal([]byte(body), &op)
		if op.Status != "EXECUTED" || len(op.DocumentList) != 1 || op.DocumentList[0].SignStatus != "SIGNED" || op.DocumentList[0].SignedContent == "" {
			t.Fatalf("operation %s", body)
		}
		if strings.Contains(strings.ToLower(body), "error") {
			t.Fatalf("a successful answer mentions error: %s", body)
		}
	}
	if s.Signed("d") != 1 || s.Delivered("d") != 1 {
		t.Fatalf("counters: %+v", s.Stats())
	}
}

func TestErrorShapes(t *testing.T) {
	_, ts := start(t, Config{})
	tok := "Bearer " + token(t, ts, false)
	base := ts.URL + "/signstash/einvoice-integration-client-ws/api/v0/"
	cases := []struct {
		method, path, auth, body string
		status                   int
		code                     string
	}{
		{"POST", "document/sign/base64", tok, `{"description":"x","documents":[]}`, 500, "0.0.2"},
		{"POST", "document/sign/base64", tok, strings.Replace(signBody("e1", "e1"), "PAdES", "XYZ", 1), 500, "0.0.6"},
		{"POST", "document/sign/base64", tok, strings.Replace(signBody("e2", "e2"), `"base64Content":"`, `"base64Content":"!!`, 1), 500, "0.0.6"},
		{"POST", "document/sign/base64", tok, signBody("ok", "ok"), 200, ""},
		{"POST", "document/sign/base64", tok, signBody("ok", "other"), 409, "0.0.7"},
		{"POST", "document/sign/base64", tok, signBody("new", "ok"), 409, "0.0.7"},
		{"GET", "operation/id/withDocumentExternalReference/nope", tok, "", 404, "0.0.6"},
		{"GET", "operation/id/withDocumentExternalReference/ok", tok, "", 200, ""},
		{"GET", "async/operation/status/nope", tok, "", 404, "0.0.6"},
		{"GET", "operation/status/1", "Bearer garbage", "", 401, ""},
		{"GET", "operation/status/1", "", "", 401, ""},
	}
	for _, c := range cases {
		st, body := call(t, c.method, base+c.path, c.auth, c.body)
		if st != c.status {
			t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, st, body, c.status)
		}
		if c.code != "" {
			var er map[string]string
			if err := json.Unmarshal([]byte(body), &er); err != nil || er["errorCode"] != c.code || er["errorCodeDescription"] == "" || er["causeMessage"] == "" || len(er) != 3 {
				t.Fatalf("%s %s: error body %s, want code %s", c.method, c.path, body, c.code)
			}
		}
	}
	// Bad credentials and grant at the token endpoint.
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", ts.URL+"/oauth2/authorization-server/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testAlias, "wrong")
	resp, _ := http.DefaultClient.Do(req)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"unauthorized"`) || strings.Contains(string(b), testSecret) {
		t.Fatalf("bad credentials: %d %s", resp.StatusCode, b)
	}
}

func TestAdminFaultsAndClients(t *testing.T) {
	s, ts := start(t, Config{})
	tok := "Bearer " + token(t, ts, false)
	st, body := call(t, "POST", ts.URL+"/sim/faults", "", `{"error_code":"1.1.1","latency":"1ms"}`)
	if st != 200 || s.Faults().ErrorCode != "1.1.1" {
		t.Fatalf("set faults: %d %s", st, body)
	}
	if st, _ := call(t, "GET", ts.URL+"/signstash/einvoice-integration-ws/api/v0/operation/status/1", tok, ""); st != 401 {
		t.Fatalf("error_code fault: %d", st)
	}
	if st, _ := call(t, "POST", ts.URL+"/sim/faults", "", `{"fail_rate":2}`); st != 400 {
		t.Fatal("a rate above 1 was accepted")
	}
	call(t, "POST", ts.URL+"/sim/faults", "", `{}`)
	if st, _ := call(t, "POST", ts.URL+"/sim/clients/"+testAlias, "", `{"status":"INACTIVE"}`); st != 200 {
		t.Fatal("status change refused")
	}
	st, body = call(t, "GET", ts.URL+"/signstash/einvoice-integration-ws/api/v0/operation/status/1", tok, "")
	if st != 401 || !strings.Contains(body, `"1.1.1"`) {
		t.Fatalf("inactive client: %d %s", st, body)
	}
}

func TestParseClients(t *testing.T) {
	m, err := ParseClients(strings.NewReader(`{"A":{"secret":"s","inputFolder":"/in","backupFolder":"/b","outputFolder":"/o"},"B":{"secret":"t","status":"INACTIVE"}}`))
	if err != nil || m["A"].Secret != "s" || m["B"].Status != StatusInactive {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{`{"A":{}}`, `{"A":{"secret":"s","status":"ON"}}`, `{"A":{"secret":"s","colour":1}}`} {
		if _, err := ParseClients(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestTokenCredentialsStrict: Basic credentials are compared raw (a
// form-encoded secret is another secret), and credentials in the form body
// are accepted only when lenient.
func TestTokenCredentialsStrict(t *testing.T) {
	const odd = "a+b/c@d%20e:f g"
	post := func(ts *httptest.Server, basic bool, secret string) int {
		form := url.Values{"grant_type": {"client_credentials"}}
		if !basic {
			form.Set("client_id", testAlias)
			form.Set("client_secret", secret)
		}
		req, _ := http.NewRequest("POST", ts.URL+"/oauth2/authorization-server/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(testAlias, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	clients := map[string]Client{testAlias: {Secret: odd}}
	_, strict := start(t, Config{Clients: clients})
	if st := post(strict, true, odd); st != 200 {
		t.Fatalf("raw Basic secret: %d", st)
	}
	if st := post(strict, true, url.QueryEscape(odd)); st != 401 {
		t.Fatalf("form-encoded Basic secret: %d, want 401", st)
	}
	if st := post(strict, false, odd); st != 401 {
		t.Fatalf("credentials in the body, strict: %d, want 401", st)
	}
	_, lenient := start(t, Config{Clients: clients, Lenient: true})
	if st := post(lenient, false, odd); st != 200 {
		t.Fatalf("credentials in the body, lenient: %d", st)
	}
}

// TestStrictRequests: the emulator refuses what the service validates:
// unknown fields, trailing data, a body that is not JSON by its
// Content-Type, a signature type that does not sign the content type.
// Lenient, it accepts them all.
func TestStrictRequests(t *testing.T) {
	for _, lenient := range []bool{false, true} {
		_, ts := start(t, Config{Lenient: lenient, Sign: MarkerSign})
		tok := "Bearer " + token(t, ts, false)
		u := ts.URL + "/signstash/einvoice-integration-client-ws/api/v0/document/sign/base64"
		n := 0
		ref := func() string { n++; return fmt.Sprintf("strict-%v-%d", lenient, n) }
		for name, c := range map[string]struct {
			body   func(r string) string
			status int
		}{
			"unknown top field": {func(r string) string {
				return strings.Replace(signBody(r, r), `{"externalReference"`, `{"priority":1,"externalReference"`, 1)
			}, 500},
			"unknown doc field": {func(r string) string {
				return strings.Replace(signBody(r, r), `"name":"a.pdf"`, `"name":"a.pdf","size":3`, 1)
			}, 500},
			"trailing data":    {func(r string) string { return signBody(r, r) + `{}` }, 500},
			"trailing garbage": {func(r string) string { return signBody(r, r) + ` x` }, 500},
			"missing comma": {func(r string) string {
				return strings.Replace(signBody(r, r), `,"description"`, ` "description"`, 1)
			}, 500},
			"missing colon": {func(r string) string {
				return strings.Replace(signBody(r, r), `"description":`, `"description" `, 1)
			}, 500},
			"doubled colon": {func(r string) string {
				return strings.Replace(signBody(r, r), `"description":`, `"description"::`, 1)
			}, 500},
			"comma before a key": {func(r string) string {
				return strings.Replace(signBody(r, r), `{"externalReference"`, `{,"externalReference"`, 1)
			}, 500},
			"trailing comma in documents": {func(r string) string { return strings.Replace(signBody(r, r), `}]}`, `},]}`, 1) }, 500},
			"unknown signatureInfo field": {func(r string) string {
				return strings.Replace(signBody(r, r), `{"signatureType"`, `{"level":"B","signatureType"`, 1)
			}, 500},
			"PAdES of XML": {func(r string) string { return strings.Replace(signBody(r, r), `"application/pdf"`, `"text/xml"`, 1) }, 500},
			"known fields": {func(r string) string { return signBody(r, r) }, 200},
		} {
			want := c.status
			if lenient {
				want = 200
			}
			if st, body := call(t, "POST", u, tok, c.body(ref())); st != want {
				t.Errorf("lenient=%v %s: %d %s, want %d", lenient, name, st, body, want)
			}
		}
		req, _ := http.NewRequest("POST", u, strings.NewReader(signBody(ref(), ref())))
		req.Header.Set("Authorization", tok)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: 415, true: 200}[lenient]; resp.StatusCode != want {
			t.Errorf("lenient=%v text/plain body: %d, want %d", lenient, resp.StatusCode, want)
		}
	}
}

// TestRequestCaps: documents and bytes per request are capped with the
// documented 500 / 0.0.4.
func TestRequestCaps(t *testing.T) {
	two := func(r string) string {
		return strings.Replace(signBody(r, r+".a"), `}]}`, `},{"documentRequest":{"externalReference":"`+r+`.b","name":"b.pdf","contentType":"application/pdf","base64Content":"JVBERi0xLjQ="},"signatureInfo":{"signatureType":"PAdES"}}]}`, 1)
	}
	for name, cfg := range map[string]Config{"documents": {MaxDocuments: 1}, "bytes": {MaxRequestBytes: 15}} {
		cfg.Sign = MarkerSign
		_, ts := start(t, cfg)
		tok := "Bearer " + token(t, ts, false)
		u := ts.URL + "/signstash/einvoice-integration-client-ws/api/v0/document/sign/base64"
		if st, body := call(t, "POST", u, tok, two("cap-"+name)); st != 500 || !strings.Contains(body, `"0.0.4"`) {
			t.Errorf("%s: %d %s, want 500 / 0.0.4", name, st, body)
		}
		if st, body := call(t, "POST", u, tok, signBody("one-"+name, "one-"+name)); st != 200 {
			t.Errorf("%s: one small document: %d %s", name, st, body)
		}
	}
}
