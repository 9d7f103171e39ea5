package config

import (
	"strings"
	"testing"

	"github.com/signagent/signagent/watcher"
)

func TestCheckNetworkInbox(t *testing.T) {
	smb := func(string) (watcher.FS, error) {
		// A remote FS as DetectFS returns it for an SMB mount.
		return watcher.FS{Type: "smb", Remote: true}, nil
	}
	for _, tc := range []struct {
		extra, msg, hint string
	}{
		{"", "network share (smb): file events are unreliable here; new files are found by scanning every 3s", "nothing to do"},
		{`scan_interval = "5s"`, "scanning every 5s", "nothing to do"},
		{`scan_interval = "60s"`, "scanning every 1m0s", "leave scan_interval out for 3s"},
	} {
		c := layout(t, t.TempDir(), "", tc.extra)
		ps := c.check(smb)
		p, ok := find(ps, "folders[0].inbox")
		if !ok || !p.Warning || !strings.Contains(p.Message, tc.msg) || !strings.Contains(p.Hint, tc.hint) || len(ps) != 1 {
			t.Errorf("%q: got %v (%+v), want one warning %q with hint %q", tc.extra, Problems(ps), p, tc.msg, tc.hint)
		}
	}
	// A local inbox gets no such warning.
	c := layout(t, t.TempDir(), "", "")
	if ps := c.check(func(string) (watcher.FS, error) { return watcher.FS{Type: "local"}, nil }); len(ps) != 0 {
		t.Errorf("local inbox: %v", Problems(ps))
	}
}

func TestScanIntervalDefaultsByFileSystem(t *testing.T) {
	c := layout(t, t.TempDir(), "", "")
	if got := c.Folders[0].ScanInterval.Duration; got != 0 {
		t.Errorf("scan_interval left out = %s, want 0 (chosen by the inbox's file system)", got)
	}
}
