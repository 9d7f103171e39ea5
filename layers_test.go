package signagent_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers keeps the signing code out of the packages that only speak
// the backend contract (package signing): the Sign'Stash client, the
// configuration, the ledger, the watcher and the monitor must never pull
// in the local signer or its PDF, XML and CMS dependencies.
func TestLayers(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	forbidden := []string{
		"github.com/signagent/signagent/signer",
		"github.com/russellhaering/goxmldsig",
		"github.com/beevik/etree",
		"github.com/digitorus/pkcs7",
	}
	for _, pkg := range []string{"./signstash", "./config", "./ledger", "./watcher", "./monitor", "./signing"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
