package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two agents with separate data directories on one inbox that raises no
// file events (a FUSE bindfs mount written from underneath, as a share):
// a few hundred unique documents written in bursts, half renamed into place
// and half written in place, slowly. Every input is published once and
// archived once, with no error files; run reports the split between the
// agents. It needs /dev/fuse and bindfs; with SIGNAGENT_FUSE_TEST=1 (as in
// CI) a missing bindfs fails the test instead of skipping it (a machine
// that cannot mount FUSE at all still skips).
func TestFleetOnShare(t *testing.T) {
	must := os.Getenv("SIGNAGENT_FUSE_TEST") == "1"
	if testing.Short() && !must {
		t.Skip("-short: the fleet test takes about 30 s")
	}
	bin := filepath.Join(t.TempDir(), "signagent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/signagent/signagent/cmd/signagent").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	err := run(options{bin: bin, docs: 300, gap: time.Second, burst: 30, inPlace: true, agents: 2,
		settle: 2 * time.Second, timeout: 5 * time.Minute, dir: t.TempDir()})
	if errors.Is(err, errSkipped) {
		// A missing bindfs is an install problem (CI installs it); a
		// kernel or sandbox without FUSE is the machine's, and skips.
		if must && strings.Contains(err.Error(), "not installed") {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
