package signstash_test

import (
	"testing"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/signstash"
)

// TestDefaultsAreTheConfigurations: a zero value in signstash.Config
// means what leaving the key out of the configuration file means.
func TestDefaultsAreTheConfigurations(t *testing.T) {
	for _, c := range []struct {
		name        string
		client, cfg any
	}{
		{"poll_interval", signstash.DefaultPollInterval, config.DefaultPollInterval},
		{"timeout", signstash.DefaultTimeout, config.DefaultTimeout},
		{"sync_max_files", signstash.DefaultSyncMaxFiles, config.DefaultSyncMaxFiles},
		{"mode", signstash.ModeAuto, config.DefaultMode},
	} {
		if c.client != c.cfg {
			t.Errorf("%s: the client's default is %v, the configuration's %v", c.name, c.client, c.cfg)
		}
	}
}
