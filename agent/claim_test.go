package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/watcher"
)

// Files found ready together are claimed with one pair of ledger
// transactions, and still one at a time as far as duplicates go: of two
// files with the same content in one group, the second is the DUPLICATE,
// whichever order the ledger would list them in.
func TestClaimGroupKeepsOrder(t *testing.T) {
	e := newStepEnv(t)
	ctx := context.Background()
	var files []watcher.File
	for _, n := range []struct{ name, content string }{
		{"a.txt", "same content\n"}, {"b.txt", "same content\n"}, {"c.txt", "other content\n"},
	} {
		p := filepath.Join(e.r.f.Inbox, n.name)
		if err := os.WriteFile(p, []byte(n.content), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, watcher.File{Path: p, Rel: n.name, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	e.r.claim(ctx, files)

	var queued []string
	for len(e.r.queue) > 0 {
		queued = append(queued, (<-e.r.queue).doc.Rel)
	}
	if len(queued) != 2 || queued[0] != "a.txt" || queued[1] != "c.txt" {
		t.Fatalf("queued %v, want [a.txt c.txt]", queued)
	}
	got := map[string]string{}
	for id := int64(1); id <= 3; id++ {
		d, err := e.db.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got[d.Rel] = string(d.State) + " " + string(d.ErrCode)
	}
	want := map[string]string{
		"a.txt": string(signagent.StateClaimed) + " ",
		"b.txt": string(signagent.StateFailed) + " " + string(signagent.CodeDuplicate),
		"c.txt": string(signagent.StateClaimed) + " ",
	}
	for rel, w := range want {
		if got[rel] != w {
			t.Errorf("%s: %q, want %q", rel, got[rel], w)
		}
	}
}
