package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNotify(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sd_notify is Linux only")
	}
	// Short directory: socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	read := func() string {
		t.Helper()
		buf := make([]byte, 256)
		ln.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	if err := NotifyReady(sock); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "READY=1" {
		t.Errorf("NotifyReady sent %q", got)
	}
	if err := NotifyStatus(sock, "3 folders\nwatching"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "STATUS=3 folders watching" {
		t.Errorf("NotifyStatus sent %q", got)
	}
	if err := NotifyStopping(sock); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "STOPPING=1" {
		t.Errorf("NotifyStopping sent %q", got)
	}

	if err := NotifyReady(""); err != nil {
		t.Errorf("no socket: %v, want a no-op", err)
	}
	if err := NotifyReady(filepath.Join(dir, "missing")); err == nil {
		t.Error("notify to a missing socket reported success")
	}
}

// fakeSink records events as the Event Log would receive them.
type fakeSink struct {
	mu     sync.Mutex
	events []string
	closed bool
}

func (f *fakeSink) add(kind string, eid uint32, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("%s %d %s", kind, eid, msg))
	return nil
}
func (f *fakeSink) Info(eid uint32, msg string) error    { return f.add("info", eid, msg) }
func (f *fakeSink) Warning(eid uint32, msg string) error { return f.add("warning", eid, msg) }
func (f *fakeSink) Error(eid uint32, msg string) error   { return f.add("error", eid, msg) }
func (f *fakeSink) Close() error                         { f.closed = true; return nil }

func TestEventLogHandler(t *testing.T) {
	sink := &fakeSink{}
	h := newEventLogHandler(sink, nil)
	log := slog.New(h).With("component", "agent")
	log.Info("document published", "file", "a.pdf")
	log.Warn("folder held", "folder", "invoices", "reason", "credentials rejected")
	log.WithGroup("batch").Error("submit failed", "id", "b-1", "err", errors.New("HTTP 503"))

	want := []string{
		`warning 2 folder held component=agent folder=invoices reason="credentials rejected"`,
		`error 3 submit failed component=agent batch.id=b-1 batch.err="HTTP 503"`,
	}
	if strings.Join(sink.events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(sink.events, "\n"), strings.Join(want, "\n"))
	}

	sink.events = nil
	all := slog.New(newEventLogHandler(sink, slog.LevelInfo))
	all.Info("started")
	if len(sink.events) != 1 || sink.events[0] != "info 1 started" {
		t.Errorf("info level: %q", sink.events)
	}
	if err := h.Close(); err != nil || !sink.closed {
		t.Errorf("Close: %v closed=%v", err, sink.closed)
	}

	// Concurrent use keeps each event whole.
	sink.events = nil
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { log.Warn("w", "n", i) })
	}
	wg.Wait()
	for _, e := range sink.events {
		if !strings.HasPrefix(e, "warning 2 w component=agent n=") || strings.Count(e, "component") != 1 {
			t.Errorf("garbled event %q", e)
		}
	}

	if runtime.GOOS != "windows" {
		off, err := NewEventLogHandler("signagent", nil)
		if err != nil {
			t.Fatal(err)
		}
		if off.Enabled(context.Background(), slog.LevelError) {
			t.Error("event log handler enabled outside Windows")
		}
		if err := off.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	w := LogFile(dir, "")
	if _, err := fmt.Fprintln(w, "level=WARN msg=hello"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "logs", "signagent.log"))
	if err != nil || string(got) != "level=WARN msg=hello\n" {
		t.Errorf("log file: %q %v", got, err)
	}
	if ws := WindowsSettings(Options{DataDir: `C:\data`}); ws.LogFile != `C:\data\logs\signagent.log` {
		t.Errorf("WindowsSettings names %q, LogFile writes logs/signagent.log", ws.LogFile)
	}
}

// TestCrossBuild builds the packages for the other service managers. It is
// skipped with -short; the Makefile's cross-build target covers ./... .
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-build skipped with -short")
	}
	for _, goos := range []string{"windows", "darwin", "linux"} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, "./", "../monitor/")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s go build: %v\n%s", goos, err, out)
		}
	}
}
