//go:build unix

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestUnwritableOutboxAsServiceAccount runs the built agent as another
// account (nobody) with one folder's outbox it may not write: that folder
// is held, the other signs, and once the outbox is opened to the account
// the held folder signs too. Needs root to start a process as nobody.
func TestUnwritableOutboxAsServiceAccount(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the agent as nobody")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no account nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	pdf := corpusPDF(t)
	bin := buildBinary(t)
	os.Chmod(filepath.Dir(bin), 0o755)
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	var folders string
	for _, name := range []string{"good", "shared"} {
		for _, sub := range []string{"inbox", "outbox", "error"} {
			p := filepath.Join(dir, name, sub)
			os.MkdirAll(p, 0o777)
			os.Chmod(p, 0o777)
		}
		os.Chmod(filepath.Join(dir, name), 0o755)
		folders += fmt.Sprintf("\n[[folders]]\nname = %q\ninbox = %q\noutbox = %q\nerror = %q\ninclude = [\"*.pdf\"]\nsettle = \"100ms\"\nscan_interval = \"300ms\"\nmax_wait = \"200ms\"\n",
			name, filepath.Join(dir, name, "inbox"), filepath.Join(dir, name, "outbox"), filepath.Join(dir, name, "error"))
	}
	shared := filepath.Join(dir, "shared", "outbox")
	os.Chmod(shared, 0o755) // root's: nobody may not create files there
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	os.Chown(data, uid, gid)
	cfg := filepath.Join(dir, "signagent.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nlisten = \"off\"\n\n[backends.local]\ntype = \"local\"\n", data)+folders), 0o644)

	var logs lockedBuffer
	agent := exec.Command(bin, "run", "--config", cfg)
	agent.Stdout, agent.Stderr = &logs, &logs
	agent.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})
	st := dropAndWaitHeld(t, dir, cfg, pdf)
	if h := st.Folders[1].Held; !strings.Contains(h, "cannot create files in "+shared) || !strings.Contains(h, "permission denied") {
		t.Errorf("hold: %q", h)
	}
	os.Chmod(shared, 0o777)
	if code, out, stderr := runCmd(t, nil, "recheck", "--config", cfg, "shared"); code != exitOK {
		t.Errorf("recheck: exit %d\n%s%s", code, out, stderr)
	}
	waitFor(t, "the held folder to sign", func() bool {
		_, err := os.Stat(filepath.Join(shared, "b.pdf"))
		return err == nil
	})
	agent.Process.Signal(syscall.SIGTERM)
	if err := agent.Wait(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
}
