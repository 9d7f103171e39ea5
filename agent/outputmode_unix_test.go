//go:build unix

package agent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signagent/signagent/agent"
)

// TestOutputMode: the signed documents, and the content copy beside a
// detached signature, take Agent.OutputMode (config's output_mode); by
// default 0640. Error files keep the agent's own 0640.
func TestOutputMode(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile(corpusFiles(t, ".pdf")[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mode os.FileMode
		want os.FileMode
	}{
		{"default", 0, 0o640},
		{"0644", 0o644, 0o644},
		{"0600", 0o600, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The empty file fails once it has stayed empty a little while.
			e := newEnv(t, func(f *agent.Folder) { f.Watch.EmptyGrace = 20 * time.Millisecond })
			e.startWith(func(a *agent.Agent) { a.OutputMode = tc.mode })
			e.drop("inv.pdf", pdf)
			e.drop("data.txt", []byte("payload"))
			e.drop("empty.pdf", nil)
			want := []string{"data.txt", "data.txt.p7s", "inv.pdf"}
			e.waitFor("outputs and the failure", func() bool {
				return len(files(e.outbox)) == len(want) && exists(filepath.Join(e.errDir, "empty.pdf.error.json"))
			})
			e.stop()
			for _, f := range want {
				fi, err := os.Stat(filepath.Join(e.outbox, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != tc.want {
					t.Errorf("outbox/%s: mode %04o, want %04o", f, got, tc.want)
				}
			}
			if fi, err := os.Stat(filepath.Join(e.errDir, "empty.pdf.error.json")); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("error file: %v %v, want mode 0640", fi.Mode(), err)
			}
		})
	}
}
