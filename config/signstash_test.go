package config

import (
	"os"
	"strings"
	"testing"

	"github.com/signagent/signagent/signstash"
)

// signstashConf is a valid signstash backend; extra is appended to its table.
func signstashConf(extra string) string {
	return `[backends.m]
type = "signstash"
base_url = "https://lb.internal:8443/signstash/einvoice-integration-client-ws"
token_url = "https://msignstash.multicert.com/oauth2/authorization-server/oauth/token"
client_id = "PRT.505767457-PRT.123654123-84dd8c"
client_secret_env = "SIGNSTASH_SECRET"
` + extra
}

// TestSignStashInstancesValidated: instances are base URLs, URLs without a
// path or host:port; anything else is refused at load time, on its line.
func TestSignStashInstancesValidated(t *testing.T) {
	good := signstashConf(`instances = [
  "http://10.0.0.5:8081/signstash/einvoice-integration-client-ws",
  "http://10.0.0.6:8081",
  "10.0.0.7:8081",
]
`)
	if _, err := Parse([]byte(good), ""); err != nil {
		t.Fatalf("valid instances refused: %v", err)
	}
	bad := signstashConf(`mode = "async"
instances = ["10.0.0.5:8081", "ftp://10.0.0.6:8081"]
`)
	_, err := Parse([]byte(bad), "")
	if err == nil {
		t.Fatal("an ftp:// instance was accepted")
	}
	ps := problemsOf(t, err)
	found := false
	for _, p := range ps {
		if strings.Contains(p.Key, "instances[1]") {
			found = true
			if p.Line != 8 {
				t.Errorf("problem %v on line %d, want 8", p, p.Line)
			}
		}
	}
	if !found {
		t.Fatalf("no problem names instances[1]: %v", err)
	}
}

// TestSignStashPathTemplatesValidated: every path template is checked at
// load time by the client's own rule, on its line; the example's templates
// (uncommented) load and the client takes them.
func TestSignStashPathTemplatesValidated(t *testing.T) {
	ex, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	in := false
	for _, l := range strings.Split(string(ex), "\n") {
		switch {
		case strings.HasPrefix(l, "# [backends.") && strings.HasSuffix(l, ".paths]"):
			in = true
		case in && strings.HasPrefix(l, "# ") && strings.Contains(l, " = "):
			paths = append(paths, strings.TrimPrefix(l, "# "))
		case in:
			in = false
		}
	}
	if len(paths) == 0 {
		t.Fatal("no [backends.*.paths] example in config.example.toml")
	}
	c, err := Parse([]byte(signstashConf("instances = [\"10.0.0.5:8081\"]\n[backends.m.paths]\n"+strings.Join(paths, "\n")+"\n")), "")
	if err != nil {
		t.Fatalf("the example's path templates do not load: %v", err)
	}
	if _, err := signstash.New(signstash.Config{BaseURL: c.Backends["m"].BaseURL, TokenURL: c.Backends["m"].TokenURL,
		ClientID: "x", ClientSecret: "y", Paths: c.Backends["m"].Paths}); err != nil {
		t.Fatalf("the example's path templates load but the client refuses them: %v", err)
	}
	for tmpl, key := range map[string]string{
		`status = "api/v0/operation/status"`:                      "status",       // no {operationId}
		`lookup = "api/v0/operation/{operationId}"`:               "lookup",       // not the look-up's placeholder
		`async_status = "api/v0/async/{externalRef}"`:             "async_status", // unknown placeholder
		`detail = "api/v0/operation/sign/detail/{operationId}?x"`: "detail",
		`async_result = "api/v0/../{externalReference}"`:          "async_result",
	} {
		_, err := Parse([]byte(signstashConf("[backends.m.paths]\n"+tmpl+"\n")), "")
		if err == nil {
			t.Errorf("%s: accepted", tmpl)
			continue
		}
		found := false
		for _, p := range problemsOf(t, err) {
			if p.Key == "backends.m.paths."+key && p.Line == 8 {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem on backends.m.paths.%s line 8: %v", tmpl, key, err)
		}
	}
}

// TestSignStashServiceSchemeProxyKeys: service, instance_scheme and
// http_proxy load, and bad values are refused on their line (a proxy URL
// is never echoed: it may hold a password).
func TestSignStashServiceSchemeProxyKeys(t *testing.T) {
	good := signstashConf(`service = "proxy"
instance_scheme = "http"
http_proxy = "http://proxy.corp:3128"
instances = ["10.0.0.5:8081"]
mode = "async"
`)
	c, err := Parse([]byte(good), "")
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if b := c.Backends["m"]; b.Service != "proxy" || b.InstanceScheme != "http" || b.HTTPProxy != "http://proxy.corp:3128" {
		t.Fatalf("decoded %+v", b)
	}
	for extra, key := range map[string]string{
		`service = "cloud"`:                         "service",
		`instance_scheme = "ftp"`:                   "instance_scheme",
		`http_proxy = "http://u:Secr3t@proxy:3128"`: "http_proxy",
		"service = \"saas\"\nmode = \"async\"":      "mode",
	} {
		_, err := Parse([]byte(signstashConf(extra+"\n")), "")
		if err == nil {
			t.Errorf("%s: accepted", extra)
			continue
		}
		if strings.Contains(err.Error(), "Secr3t") {
			t.Errorf("%s: the error echoes the proxy password", extra)
		}
		found := false
		for _, p := range problemsOf(t, err) {
			found = found || (p.Key == "backends.m."+key && p.Line >= 7)
		}
		if !found {
			t.Errorf("%s: no problem on backends.m.%s: %v", extra, key, err)
		}
	}
}

// TestProofOfAbsence: "instances" by default, "saas" accepted, anything
// else refused on its line with the values it may take.
func TestProofOfAbsence(t *testing.T) {
	c, err := Parse([]byte(signstashConf("")), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Backends["m"].ProofOfAbsence; got != signstash.ProofInstances {
		t.Errorf("default proof_of_absence %q, want %q", got, signstash.ProofInstances)
	}
	if c, err = Parse([]byte(signstashConf(`proof_of_absence = "saas"`+"\n")), ""); err != nil || c.Backends["m"].ProofOfAbsence != signstash.ProofSaaS {
		t.Errorf("proof_of_absence = \"saas\": %v", err)
	}
	_, err = Parse([]byte(signstashConf(`proof_of_absence = "never"`+"\n")), "c.toml")
	if err == nil || !strings.Contains(err.Error(), "proof_of_absence") || !strings.Contains(err.Error(), ":7") || !strings.Contains(err.Error(), "saas") {
		t.Errorf("bad proof_of_absence: %v", err)
	}
}

// TestOutcomeUnknownAfter: 1h by default, a duration of at least 1m,
// refused on its line otherwise.
func TestOutcomeUnknownAfter(t *testing.T) {
	c, err := Parse([]byte(""), "")
	if err != nil || c.OutcomeUnknownAfter.Duration != DefaultOutcomeUnknownAfter {
		t.Fatalf("default: %v %v", c, err)
	}
	if c, err = Parse([]byte("outcome_unknown_after = \"15m\"\n"), ""); err != nil || c.OutcomeUnknownAfter.Minutes() != 15 {
		t.Errorf("15m: %v", err)
	}
	_, err = Parse([]byte("\noutcome_unknown_after = \"30s\"\n"), "c.toml")
	if err == nil || !strings.Contains(err.Error(), "outcome_unknown_after") || !strings.Contains(err.Error(), ":2") {
		t.Errorf("30s: %v", err)
	}
}
