package monitor

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/golden"
)

var goldenFiles = golden.Flag("update", "rewrite the golden files in testdata/")

// fullStatus sets every field of the report, so the golden file pins
// every key.
func fullStatus() *signagent.Status {
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	return &signagent.Status{
		Time:        now,
		LedgerBytes: 4096,
		Agent: &signagent.AgentState{Running: true, PID: 4242, Version: "1.2.3", Started: now.Add(-90 * time.Minute),
			Uptime: 90 * time.Minute, LastActivity: now.Add(-time.Second), Problem: "example"},
		Folders: []signagent.FolderStatus{{
			Name:   "invoices",
			Counts: map[signagent.State]int{signagent.StatePublished: 40, signagent.StateClaimed: 2, signagent.StateFailed: 1},
			Oldest: &signagent.Waiting{File: "a.pdf", State: signagent.StateClaimed, Since: now.Add(-1500 * time.Millisecond),
				Age: 1500 * time.Millisecond},
			Held: "cannot write to the outbox",
			InFlight: []signagent.Operation{{Batch: "b-1", Backend: "stash", ID: "op-9", Docs: 3,
				Submitted: now.Add(-10 * time.Second)}},
			Failures: []signagent.Failure{{File: "bad.pdf", Code: signagent.CodeNotAPDF, Message: "not a PDF",
				FailedAt: now.Add(-time.Hour)}},
			WatchError:   "watch: too many open files",
			Ignored:      []string{"fifo: not a regular file"},
			FileSystem:   "smb",
			Network:      true,
			ScanInterval: 3 * time.Second,
			Unreported:   4,
			Retrying:     []signagent.Retry{{File: "b.pdf", Attempts: 3, NextAttempt: now.Add(time.Minute)}},
			OutcomeUnknown: []signagent.UnknownBatch{{ID: 12, Folder: "invoices", Ref: "b-12", Docs: 3,
				Since: now.Add(-2 * time.Hour), Decision: "resend"}},
			HeldSince:   now.Add(-2 * time.Minute),
			NextRecheck: now.Add(40 * time.Second),
			LastHold:    "cannot write to the outbox",
			Inbox:       &signagent.InboxWaiting{Files: 7, AtLeast: true, Oldest: "sub/c.xml", OldestSince: now.Add(-time.Minute)},
		}},
	}
}

// allSet fails for every field of v (a struct) left at its zero value.
func allSet(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		if f.IsZero() {
			t.Errorf("%s is not set in the sample: the golden file would not pin it", name)
		}
	}
}

// TestStatusJSONGolden pins the JSON of GET /status and `signagent status
// --json`: every key, durations in seconds.
func TestStatusJSONGolden(t *testing.T) {
	st := fullStatus()
	allSet(t, reflect.ValueOf(*st), "Status")
	allSet(t, reflect.ValueOf(*st.Agent), "AgentState")
	allSet(t, reflect.ValueOf(st.Folders[0]), "FolderStatus")
	allSet(t, reflect.ValueOf(*st.Folders[0].Inbox), "InboxWaiting")
	allSet(t, reflect.ValueOf(*st.Folders[0].Oldest), "Waiting")
	allSet(t, reflect.ValueOf(st.Folders[0].OutcomeUnknown[0]), "UnknownBatch")
	var b bytes.Buffer
	if err := EncodeStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	goldenFiles.Check(t, "status.json", b.Bytes())
	if strings.Contains(b.String(), "_ns") {
		t.Errorf("a duration in nanoseconds:\n%s", b.String())
	}
	var back signagent.Status
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, st) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", back, *st)
	}
}
