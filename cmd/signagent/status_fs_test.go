package main

import (
	"strings"
	"testing"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/signer"
)

func TestStatusSaysNetworkShare(t *testing.T) {
	st := &signagent.Status{Folders: []signagent.FolderStatus{
		{Name: "share", FileSystem: "smb", Network: true, ScanInterval: 3 * time.Second, Unreported: 4},
		{Name: "local", FileSystem: "local", ScanInterval: time.Minute,
			Retrying: []signagent.Retry{{File: "b.pdf", Attempts: 4, NextAttempt: time.Date(2026, 11, 30, 1, 2, 3, 0, time.Local)}}},
	}}
	var b strings.Builder
	printStatus(&b, st, time.Now())
	out := b.String()
	for _, want := range []string{
		"share: inbox on a network share (smb): file events are unreliable here; new files are found by scanning every 3s\n",
		"share: events are not arriving for this folder; relying on scans (4 files found only by scanning)\n",
		"local: retrying after transient failures: b.pdf (4 attempts), next attempt at " + time.Date(2026, 11, 30, 1, 2, 3, 0, time.Local).Format(time.RFC3339) + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "local: inbox") || strings.Contains(out, "local: events") {
		t.Errorf("a local folder is reported as a share:\n%s", out)
	}
}

// status (which reads the ledger, not the agent) tells the inbox's file
// system itself, and the scan interval the agent would use.
func TestStatusDetectsInboxFS(t *testing.T) {
	cfg := &config.Config{Folders: []*config.Folder{{Name: "a", Inbox: t.TempDir()}}}
	st := &signagent.Status{Folders: []signagent.FolderStatus{{Name: "a"}}}
	addInboxFS(st, cfg)
	f := st.Folders[0]
	if f.FileSystem == "" || f.ScanInterval == 0 {
		t.Fatalf("file system not filled in: %+v", f)
	}
	if !f.Network && f.ScanInterval != time.Minute {
		t.Errorf("local inbox scan interval %s, want 1m", f.ScanInterval)
	}
}

// verify prints what a timestamp attests apart from the claimed time.
func TestTimestampText(t *testing.T) {
	ts := time.Date(2026, 11, 21, 15, 53, 11, 0, time.UTC)
	v := signer.Verification{Timestamped: true, TimestampTime: ts, TSA: "CN=Test TSA"}
	if got, want := timestampText(v), `, timestamp 2026-11-21T15:53:11Z by "CN=Test TSA"`; got != want {
		t.Errorf("timestampText = %q, want %q", got, want)
	}
	if got := timestampText(signer.Verification{}); got != "" {
		t.Errorf("no timestamp: %q, want empty", got)
	}
}
