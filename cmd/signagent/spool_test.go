package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSpoolDir: the multipart transport spools under data_dir/tmp, and a
// spool a crash left behind for more than a day is removed at start; a
// recent one (a download under way in another process) is kept.
func TestSpoolDir(t *testing.T) {
	data := t.TempDir()
	dir := spoolDir(data, slog.New(slog.DiscardHandler))
	if dir != filepath.Join(data, "tmp") {
		t.Fatalf("spool dir %q", dir)
	}
	old, recent := filepath.Join(dir, "signstash-1.zip"), filepath.Join(dir, "signstash-2.zip")
	for _, p := range []string{old, recent} {
		if err := os.WriteFile(p, []byte("zip"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-25 * time.Hour)
	os.Chtimes(old, past, past)
	spoolDir(data, slog.New(slog.DiscardHandler))
	if _, err := os.Stat(old); err == nil {
		t.Error("a day-old spool was kept")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a recent spool was removed: %v", err)
	}
	if spoolDir("", slog.New(slog.DiscardHandler)) != "" {
		t.Error("no data dir: want the system's temp folder")
	}
}
