package config

import (
	"strings"
	"testing"
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
