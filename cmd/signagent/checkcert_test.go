package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/internal/testpki"
)

// check never creates the development certificate (made by root, the
// service could not read it), says it will be made at the first run, and
// warns that it is not trusted.
func TestCheckDoesNotCreateDevCertificate(t *testing.T) {
	l := newLayout(t, `listen = "off"`)
	code, stdout, stderr := runCmd(t, nil, "check", "--config", l.cfg)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "created at the first run") || !strings.Contains(stdout, "NOT trusted") {
		t.Errorf("check output:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(l.data, "dev")); err == nil {
		t.Error("check created the development certificate")
	}
}

// check names the signing certificate and warns when it expires within 30
// days.
func TestCheckWarnsOfExpiringCertificate(t *testing.T) {
	l := newLayout(t, `listen = "off"`)
	p := testpki.SelfSigned(t, testpki.Cert{ECDSA: true, CommonName: "Faturas Lda signer",
		NotAfter: time.Now().Add(10*24*time.Hour + time.Hour)})
	writeConfig(t, l, `listen = "off"`, fmt.Sprintf("[backends.local]\ntype = \"local\"\ncertificate = %q\nkey_file = %q\n", p.CertPEM, p.KeyPEM), "")
	code, stdout, stderr := runCmd(t, nil, "check", "--config", l.cfg)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{`certificate "Faturas Lda signer"`, "expires in 10 day(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
}
