package installer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServicePassword: the password of a Windows service account is read
// from the first line of its file, never shown (the dry run names the
// file only), and refused for a gMSA, which takes none.
func TestServicePassword(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw.txt")
	os.WriteFile(pw, []byte("s3cret pass\r\nignored\n"), 0o600)
	o := Options{User: `CORP\svc-sign`, PasswordFile: pw, Config: `C:\signagent\config.toml`, Executable: `C:\signagent\signagent.exe`}
	got, err := o.password()
	if err != nil || got != "s3cret pass" {
		t.Errorf("password() = %q, %v", got, err)
	}
	ws := WindowsSettings(o).String()
	if !strings.Contains(ws, "account password:") || !strings.Contains(ws, "read from "+pw) || strings.Contains(ws, "s3cret") {
		t.Errorf("dry-run rendering:\n%s", ws)
	}
	if _, err := (Options{User: `CORP\svc-sign$`, PasswordFile: pw}).password(); err == nil || !strings.Contains(err.Error(), "group managed service account") {
		t.Errorf("a gMSA with a password file: %v", err)
	}
	if got, err := (Options{User: `CORP\svc-sign$`}).password(); got != "" || err != nil {
		t.Errorf("a gMSA without a password file: %q, %v", got, err)
	}
	if _, err := (Options{User: "x", PasswordFile: filepath.Join(t.TempDir(), "missing")}).password(); err == nil || strings.Contains(err.Error(), "missing") {
		t.Errorf("unreadable password file: %v (its path is not repeated)", err)
	}
}
