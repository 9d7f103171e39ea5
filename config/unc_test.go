package config

import (
	"strings"
	"testing"
)

// A missing folder on a Windows share is a share that cannot be reached
// far more often than a folder to create: the hint says so, naming the
// share, instead of suggesting mkdir on it.
func TestMissingFolderOnShareHint(t *testing.T) {
	for _, c := range []struct{ path, share string }{
		{`\\fileserver\erp\inbox`, `\\fileserver\erp`},
		{`\\fileserver\erp`, `\\fileserver\erp`},
		{`\\?\UNC\fileserver\erp\out\sub`, `\\fileserver\erp`},
	} {
		share, ok := uncShare(c.path)
		if !ok || share != c.share {
			t.Errorf("uncShare(%q) = %q, %v; want %q", c.path, share, ok, c.share)
		}
		if h := missingHint(c.path); strings.Contains(h, "mkdir") || !strings.Contains(h, c.share) {
			t.Errorf("hint for %s: %q", c.path, h)
		}
	}
	for _, p := range []string{`\\fileserver`, `\\?\C:\inbox`, `\\.\pipe\x`, `C:\inbox`, "/srv/inbox"} {
		if share, ok := uncShare(p); ok {
			t.Errorf("uncShare(%q) = %q, want no share", p, share)
		}
	}
	if h := missingHint("/srv/inbox"); !strings.Contains(h, "mkdir") {
		t.Errorf("hint for a local folder: %q", h)
	}
}
