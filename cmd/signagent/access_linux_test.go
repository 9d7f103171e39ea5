package main

import (
	"encoding/binary"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCheckAsServiceAccount: check --as evaluates the folders as the
// service account sees them, not as whoever runs check (root passes
// everything); install --user refuses an account that does not exist.
func TestCheckAsServiceAccount(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no account nobody")
	}
	if nobody.Uid == strconv.Itoa(os.Getuid()) {
		t.Skip("running as nobody")
	}
	l := newLayout(t, "")
	// The temp folders are private (0700) to their creator: open the way.
	for d := l.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for _, d := range []string{l.inbox, l.outbox, l.errDir, l.archive} {
		os.Chmod(d, 0o755)
	}
	os.MkdirAll(l.data, 0o777)
	os.Chmod(l.data, 0o777)

	if os.Getuid() == 0 {
		if code, out, _ := runCmd(t, nil, "check", "--config", l.cfg); code != exitOK {
			t.Fatalf("check as root: exit %d\n%s", code, out)
		}
	}
	code, out, stderr := runCmd(t, nil, "check", "--config", l.cfg, "--as", "nobody")
	if code != exitUsage {
		t.Errorf("check --as nobody on folders it cannot write: exit %d, want %d\n%s%s", code, exitUsage, out, stderr)
	}
	for _, key := range []string{"inbox", "outbox", "error", "archive"} {
		want := "folders[0]." + key + ": as nobody: "
		if !strings.Contains(out, want) {
			t.Errorf("check --as lacks %q:\n%s", want, out)
		}
	}
	if want := "outbox: as nobody: " + l.outbox + ": cannot create files in it: owner "; !strings.Contains(out, want) ||
		!strings.Contains(out, "mode drwxr-xr-x") || !strings.Contains(out, "hint: give nobody access, e.g. setfacl -m u:nobody:rwX") {
		t.Errorf("check --as: no owner, mode and hint:\n%s", out)
	}
	if strings.Contains(out, "data_dir: as nobody") {
		t.Errorf("the data directory (mode 0777) is reported:\n%s", out)
	}

	for _, d := range []string{l.inbox, l.errDir, l.archive} {
		os.Chmod(d, 0o777)
	}
	// The outbox stays 0755 but grants nobody rwx by its ACL, where the
	// file system keeps ACLs.
	acl := posixACLBytes(map[uint16]uint32{aclUserObj: 7, aclGroupObj: 5, aclOther: 5, aclMask: 7},
		[][3]uint32{{aclUser, 7, mustAtoi(t, nobody.Uid)}})
	if runtime.GOOS != "linux" || syscall.Setxattr(l.outbox, "system.posix_acl_access", acl, 0) != nil {
		t.Log("no POSIX ACLs here: the outbox is opened by its mode")
		os.Chmod(l.outbox, 0o777)
	}
	if code, out, _ := runCmd(t, nil, "check", "--config", l.cfg, "--as", "nobody"); code != exitOK || strings.Contains(out, "as nobody") {
		t.Errorf("check --as nobody on folders it can write: exit %d\n%s", code, out)
	}

	if code, _, stderr := runCmd(t, nil, "check", "--config", l.cfg, "--as", "no-such-account-x"); code != exitFailure ||
		!strings.Contains(stderr, `no account named "no-such-account-x"`) {
		t.Errorf("check --as an unknown account: exit %d\n%s", code, stderr)
	}
	code, out, stderr = runCmd(t, nil, "install", "--config", l.cfg, "--user", "no-such-account-x", "--dry-run")
	if code != exitFailure || !strings.Contains(stderr, `no account named "no-such-account-x"`) || strings.Contains(out, "would") {
		t.Errorf("install --user an unknown account: exit %d\n%s%s", code, out, stderr)
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// posixACLBytes encodes an access ACL as Linux stores it.
func posixACLBytes(base map[uint16]uint32, named [][3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	add := func(tag uint16, perm uint16, id uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	add(aclUserObj, uint16(base[aclUserObj]), 0xffffffff)
	for _, n := range named {
		add(uint16(n[0]), uint16(n[1]), n[2])
	}
	add(aclGroupObj, uint16(base[aclGroupObj]), 0xffffffff)
	add(aclMask, uint16(base[aclMask]), 0xffffffff)
	add(aclOther, uint16(base[aclOther]), 0xffffffff)
	return b
}
