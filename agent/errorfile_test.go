package agent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/internal/golden"
)

var errorFiles = golden.Flag("update-error-file", "rewrite testdata/*.error.json")

// TestErrorFileJSON pins the error file written next to a failed
// document: every key of ErrorFile, and what the agent writes for a real
// failure (its times replaced, as they change from run to run).
func TestErrorFileJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	ef := agent.ErrorFile{File: "a very long name.pdf", StoredAs: "a very long na-1a2b3c.pdf", Code: signagent.CodeGaveUp,
		Message: "the service did not answer", Hint: "run `signagent retry`", Attempts: 7, Batch: "b-12", Operation: "op-9",
		Backend: "stash", FirstSeen: at.Add(-time.Hour), FailedAt: at, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
	v := reflect.ValueOf(ef)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("ErrorFile.%s is not set in the sample: the golden file would not pin it", v.Type().Field(i).Name)
		}
	}
	b, err := json.MarshalIndent(ef, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	errorFiles.Check(t, "all-fields.error.json", append(b, '\n'))

	e := newEnv(t, nil)
	e.start()
	e.drop("empty.pdf", nil)
	p := filepath.Join(e.errDir, "empty.pdf.error.json")
	e.waitFor("the error file", func() bool { return exists(p) })
	e.stop()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var back agent.ErrorFile
	if err := json.Unmarshal(raw, &back); err != nil || back.FirstSeen.IsZero() || back.FailedAt.Before(back.FirstSeen) {
		t.Fatalf("error file %s: %v\n%s", p, err, raw)
	}
	times := regexp.MustCompile(`"(first_seen|failed_at)": "[^"]+"`)
	errorFiles.Check(t, "empty.error.json", times.ReplaceAll(raw, []byte(`"$1": "TIME"`)))
}
