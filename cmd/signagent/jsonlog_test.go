package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONLogsHaveNoRepeatedKeys: with log_format = "json" every line is
// one JSON object whose keys appear once (a repeated key loses a field in
// jq and most log pipelines), through a document's whole life and a failure.
func TestJSONLogsHaveNoRepeatedKeys(t *testing.T) {
	l := newLayout(t, "listen = \"off\"\nlog_format = \"json\"")
	logs := &lockedBuffer{}
	stop := startAgent(t, l, nil, logs)
	os.WriteFile(filepath.Join(l.inbox, "good.txt"), []byte("a document\n"), 0o644)
	os.WriteFile(filepath.Join(l.inbox, "bad.pdf"), []byte("not a pdf\n"), 0o644)
	waitFor(t, "both done", func() bool {
		_, e1 := os.Stat(filepath.Join(l.outbox, "good.txt.p7s"))
		_, e2 := os.Stat(filepath.Join(l.errDir, "bad.pdf.error.json"))
		return e1 == nil && e2 == nil
	})
	stop()
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the test harness's own output
		}
		lines++
		dec := json.NewDecoder(strings.NewReader(line))
		if _, err := dec.Token(); err != nil { // {
			t.Fatalf("not JSON: %s", line)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("not JSON: %v: %s", err, line)
			}
			key := k.(string)
			if seen[key] {
				t.Errorf("key %q repeated in %s", key, line)
			}
			seen[key] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("not JSON: %v: %s", err, line)
			}
		}
	}
	if lines < 5 {
		t.Fatalf("only %d JSON log lines:\n%s", lines, logs.String())
	}
}
