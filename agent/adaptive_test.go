package agent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent/agent"
)

// TestLoneFileDoesNotWaitForMaxWait: one document into an idle inbox is
// batched as soon as it is claimed, not after max_wait (an hour here).
func TestLoneFileDoesNotWaitForMaxWait(t *testing.T) {
	e := newEnv(t, func(f *agent.Folder) { f.MaxWait = time.Hour })
	e.start()
	e.drop("alone.txt", []byte("a lone document\n"))
	e.waitFor("published long before max_wait", func() bool { return exists(filepath.Join(e.outbox, "alone.txt.p7s")) })
}

// TestBurstStillFillsBatches: files that arrive together settle together
// and go in one batch, because while any of them is still settling the
// batch waits for it.
func TestBurstStillFillsBatches(t *testing.T) {
	const n = 20
	e := newEnv(t, func(f *agent.Folder) { f.MaxWait, f.MaxFiles = time.Hour, n })
	// The burst is in place before the agent starts, as after an export run.
	for i := range n {
		e.drop(fmt.Sprintf("doc-%02d.txt", i), []byte(fmt.Sprintf("document %d\n", i)))
	}
	e.start()
	e.waitFor("all published", func() bool { return len(files(e.outbox)) == 2*n })
	sizes := regexp.MustCompile(`msg=batched .* docs=(\d+)`).FindAllStringSubmatch(e.logs.String(), -1)
	var got []string
	for _, m := range sizes {
		got = append(got, m[1])
	}
	if len(got) != 1 || got[0] != fmt.Sprint(n) {
		t.Errorf("batch sizes %s, want one batch of %d", strings.Join(got, ","), n)
	}
	if left, _ := os.ReadDir(e.inbox); len(left) > 1 { // the claim area stays
		t.Errorf("inbox not empty: %d entries", len(left))
	}
}
