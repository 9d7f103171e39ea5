package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
)

// Test timings: Settle is short so tests are quick; waits for an expected
// report are generous so a busy machine does not fail them. Nothing asserts
// how long anything took.
const (
	testSettle = 50 * time.Millisecond
	deadline   = 15 * time.Second
)

// newFakeClock returns a clock tests move by hand: the watcher's looks and
// scans come only when it is advanced.
func newFakeClock() *clockwork.FakeClock {
	return clockwork.NewFakeClockAt(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}

// report is a File as the callback saw it, with the watcher's clock then.
type report struct {
	File
	at time.Time
}

// collector records every report. Extra reports are allowed; tests assert
// the ones they need and, for "never", the absence of a name among all.
type collector struct {
	mu      sync.Mutex
	reports []report
	changed chan struct{}
	now     func() time.Time
	onReady func(File) // optional, runs inside the callback (e.g. claim)
}

func (c *collector) ready(_ context.Context, f File) {
	if c.onReady != nil {
		c.onReady(f)
	}
	c.mu.Lock()
	c.reports = append(c.reports, report{File: f, at: c.now()})
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) all() []report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reports)
}

// wait returns the first report of rel, failing the test after deadline.
func (c *collector) wait(t *testing.T, rel string) report {
	t.Helper()
	timeout := time.After(deadline)
	for {
		for _, r := range c.all() {
			if r.Rel == rel {
				return r
			}
		}
		select {
		case <-c.changed:
		case <-time.After(20 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%s not reported within %s; %d reports: %.300v", rel, deadline, len(c.all()), c.rels())
		}
	}
}

func (c *collector) rels() []string {
	var out []string
	for _, r := range c.all() {
		out = append(out, r.Rel)
	}
	return out
}

// never fails the test if any of rels was reported.
func (c *collector) never(t *testing.T, rels ...string) {
	t.Helper()
	for _, r := range c.all() {
		if slices.Contains(rels, r.Rel) {
			t.Errorf("%s was reported (%+v), want never", r.Rel, r.File)
		}
	}
}

// start runs a watcher on cfg until the test ends.
func start(t *testing.T, cfg Config, tune ...func(*Watcher, *collector)) (*Watcher, *collector) {
	t.Helper()
	if cfg.Settle == 0 {
		cfg.Settle = testSettle
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{changed: make(chan struct{}, 1), now: w.cfg.Clock.Now}
	for _, f := range tune {
		f(w, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, c.ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
	return w, c
}

func write(t *testing.T, p string, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// eachMode runs f with file events and with scans alone.
func eachMode(t *testing.T, f func(t *testing.T, noEvents bool)) {
	for _, noEvents := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoEvents=%v", noEvents), func(t *testing.T) {
			t.Parallel()
			f(t, noEvents)
		})
	}
}

func TestNewFileReported(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		w, c := start(t, Config{Root: dir, NoEvents: noEvents, ScanInterval: 100 * time.Millisecond})
		write(t, filepath.Join(dir, "before.pdf"), "0123456789")
		r := c.wait(t, "before.pdf")
		if r.Path != filepath.Join(dir, "before.pdf") || r.Size != 10 || r.Marker != "" {
			t.Errorf("report %+v, want path %s size 10 no marker", r.File, filepath.Join(dir, "before.pdf"))
		}
		fi, err := os.Stat(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ModTime.Equal(fi.ModTime()) {
			t.Errorf("ModTime %v, want %v", r.ModTime, fi.ModTime())
		}
		if err := w.Err(); err != nil {
			t.Errorf("Err() = %v, want nil", err)
		}
	})
}

// A file written in pieces is never reported before its last piece, and is
// reported with its final size. The clock moves half a Settle per piece, so
// any two looks a Settle apart have a piece written between them, however
// slow the machine is.
func TestSlowWriteReportedWhenSettled(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		clock := newFakeClock()
		settle := 100 * time.Millisecond
		_, c := start(t, Config{Root: dir, NoEvents: noEvents, Settle: settle, ScanInterval: 50 * time.Millisecond, Clock: clock})
		p := filepath.Join(dir, "slow.pdf")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		const pieces = 12 // six Settle periods
		for i := range pieces {
			if _, err := f.WriteString(strings.Repeat("x", 100)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(settle / 2)
			time.Sleep(settle / 2) // give the watcher time to look
			if i == pieces/2 {
				if rs := c.all(); len(rs) > 0 {
					t.Fatalf("reported while still being written: %+v", rs)
				}
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		go func() { // the watcher's clock moves on once writing is over
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					clock.Advance(settle / 4)
				}
			}
		}()
		defer close(stop)
		r := c.wait(t, "slow.pdf")
		for _, r := range c.all() {
			if r.Size != pieces*100 {
				t.Errorf("reported with size %d, want only the final %d", r.Size, pieces*100)
			}
		}
		if r.Size != pieces*100 {
			t.Errorf("size %d, want %d", r.Size, pieces*100)
		}
	})
}

func TestIgnoreRules(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		ignored := []string{".hidden.pdf", ".invoice.pdf.partial", "~$lock.pdf", "a.tmp", "b.pdf.part", "c.partial",
			"d.pdf.crdownload", "e.pdf.filepart", "Thumbs.db", "DESKTOP.INI", "F.TMP"}
		for _, n := range ignored {
			write(t, filepath.Join(dir, n), "data")
		}
		write(t, filepath.Join(dir, "wanted.pdf"), "data")
		w, c := start(t, Config{Root: dir, NoEvents: noEvents, ScanInterval: time.Hour})
		c.wait(t, "wanted.pdf")
		// Ignored files written after start, then a sentinel after them.
		for _, n := range ignored {
			write(t, filepath.Join(dir, "late"+n), "data")
		}
		write(t, filepath.Join(dir, "sentinel.pdf"), "data")
		w.Rescan()
		c.wait(t, "sentinel.pdf")
		c.never(t, ignored...)
		var late []string
		for _, n := range ignored {
			if Ignored("late" + n) {
				late = append(late, "late"+n)
			}
		}
		c.never(t, late...)
	})
}

func TestIncludeExclude(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		names := []string{"a.pdf", "B.PDF", "c.xml", "d.txt", "draft-e.pdf", "noext"}
		for _, n := range names {
			write(t, filepath.Join(dir, n), "data")
		}
		_, c := start(t, Config{Root: dir, NoEvents: noEvents, Include: []string{"*.pdf", "*.XML"}, Exclude: []string{"draft-*"}})
		for _, n := range []string{"a.pdf", "B.PDF", "c.xml"} {
			c.wait(t, n)
		}
		c.never(t, "d.txt", "draft-e.pdf", "noext")
	})
}

func TestDoneMarker(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "early.pdf"), "early")
		write(t, filepath.Join(dir, "early.pdf.done"), "")
		write(t, filepath.Join(dir, "waiting.pdf"), "waiting")
		write(t, filepath.Join(dir, "orphan.pdf.done"), "")
		w, c := start(t, Config{Root: dir, NoEvents: noEvents, DoneMarker: true, ScanInterval: time.Hour})
		r := c.wait(t, "early.pdf")
		if r.Marker != filepath.Join(dir, "early.pdf.done") || r.Size != 5 {
			t.Errorf("report %+v, want marker %s and size 5", r.File, filepath.Join(dir, "early.pdf.done"))
		}
		// A file and then its marker, written after start.
		write(t, filepath.Join(dir, "late.xml"), "late")
		write(t, filepath.Join(dir, "late.xml.done"), "")
		w.Rescan() // the only source without events
		c.wait(t, "late.xml")
		c.never(t, "waiting.pdf", "orphan.pdf", "orphan.pdf.done", "early.pdf.done", "late.xml.done")

		write(t, filepath.Join(dir, "waiting.pdf.done"), "")
		w.Rescan()
		r = c.wait(t, "waiting.pdf")
		if r.Marker != filepath.Join(dir, "waiting.pdf.done") {
			t.Errorf("marker %q, want %q", r.Marker, filepath.Join(dir, "waiting.pdf.done"))
		}
	})
}

// In marker mode a file whose marker goes away before its second look is
// not ready.
func TestDoneMarkerRemoved(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	write(t, filepath.Join(dir, "a.pdf"), "a")
	write(t, filepath.Join(dir, "a.pdf.done"), "")
	write(t, filepath.Join(dir, "b.pdf"), "b")
	write(t, filepath.Join(dir, "b.pdf.done"), "")
	w, c := start(t, Config{Root: dir, NoEvents: true, DoneMarker: true, ScanInterval: time.Hour, Clock: clock})
	// The clock stands still, so nothing is due yet; wait until the first
	// scan has seen both files, then remove one marker.
	waitPending(t, w, 2)
	if err := os.Remove(filepath.Join(dir, "a.pdf.done")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	c.wait(t, "b.pdf")
	c.never(t, "a.pdf")
}

// waitPending waits until the watcher's looks have found n files waiting.
// It reads the pending set through a snapshot the loop publishes for tests.
func waitPending(t *testing.T, w *Watcher, n int) {
	t.Helper()
	timeout := time.After(deadline)
	for w.pendingCount() < n {
		select {
		case <-timeout:
			t.Fatalf("watcher did not take %d first looks within %s", n, deadline)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestRecursive(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "top.pdf"), "top")
		write(t, filepath.Join(dir, "sub", "a.pdf"), "a")
		write(t, filepath.Join(dir, "sub", "deeper", "b.pdf"), "b")
		write(t, filepath.Join(dir, ".signagent", "claimed.pdf"), "claimed")
		write(t, filepath.Join(dir, "sub", ".hiddendir", "c.pdf"), "c")
		write(t, filepath.Join(dir, "archive", "old.pdf"), "old")
		w, c := start(t, Config{Root: dir, Recursive: true, NoEvents: noEvents, Exclude: []string{"archive"}, ScanInterval: time.Hour})
		for _, rel := range []string{"top.pdf", "sub/a.pdf", "sub/deeper/b.pdf"} {
			r := c.wait(t, rel)
			if r.Path != filepath.Join(dir, filepath.FromSlash(rel)) {
				t.Errorf("path %s, want %s", r.Path, filepath.Join(dir, filepath.FromSlash(rel)))
			}
		}
		// A sub-folder made after start, with a file in it at once, and a
		// file written into it later (an event in the new folder's watch).
		write(t, filepath.Join(dir, "new", "x.pdf"), "x")
		if noEvents {
			w.Rescan()
		}
		c.wait(t, "new/x.pdf")
		write(t, filepath.Join(dir, "new", "more", "y.pdf"), "y")
		time.Sleep(testSettle)
		write(t, filepath.Join(dir, "new", "z.pdf"), "z")
		write(t, filepath.Join(dir, ".signagent", "late.pdf"), "late")
		if noEvents {
			w.Rescan()
		}
		c.wait(t, "new/more/y.pdf")
		c.wait(t, "new/z.pdf")
		w.Rescan()
		write(t, filepath.Join(dir, "sentinel.pdf"), "s")
		w.Rescan()
		c.wait(t, "sentinel.pdf")
		c.never(t, ".signagent/claimed.pdf", ".signagent/late.pdf", "sub/.hiddendir/c.pdf", "archive/old.pdf")
	})
}

func TestNotRecursive(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "a.pdf"), "a")
	w, c := start(t, Config{Root: dir})
	write(t, filepath.Join(dir, "sub", "b.pdf"), "b")
	write(t, filepath.Join(dir, "top.pdf"), "top")
	c.wait(t, "top.pdf")
	w.Rescan()
	write(t, filepath.Join(dir, "sentinel.pdf"), "s")
	c.wait(t, "sentinel.pdf")
	c.never(t, "sub/a.pdf", "sub/b.pdf")
}

// The recommended producer pattern: write under a temp name (elsewhere or
// ignored in the inbox), then rename into place.
func TestRenamedIntoInbox(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		base := t.TempDir()
		dir := filepath.Join(base, "inbox")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		w, c := start(t, Config{Root: dir, NoEvents: noEvents, ScanInterval: time.Hour})
		write(t, filepath.Join(base, "outside.pdf"), "outside!")
		write(t, filepath.Join(dir, "inside.pdf.partial"), "inside")
		if err := os.Rename(filepath.Join(base, "outside.pdf"), filepath.Join(dir, "moved.pdf")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "inside.pdf.partial"), filepath.Join(dir, "inside.pdf")); err != nil {
			t.Fatal(err)
		}
		if noEvents {
			w.Rescan()
		}
		if r := c.wait(t, "moved.pdf"); r.Size != 8 {
			t.Errorf("moved.pdf size %d, want 8", r.Size)
		}
		if r := c.wait(t, "inside.pdf"); r.Size != 6 {
			t.Errorf("inside.pdf size %d, want 6", r.Size)
		}
	})
}

// An empty file is reported only once it has stayed empty for EmptyGrace by
// the watcher's clock; a file that was empty only while being created is
// reported with its content.
func TestEmptyFile(t *testing.T) {
	eachMode(t, func(t *testing.T, noEvents bool) {
		dir := t.TempDir()
		clock := newFakeClock()
		const grace = 10 * time.Second
		w, c := start(t, Config{Root: dir, NoEvents: noEvents, EmptyGrace: grace, Settle: 100 * time.Millisecond, Clock: clock, ScanInterval: time.Hour})
		write(t, filepath.Join(dir, "empty.pdf"), "")
		write(t, filepath.Join(dir, "filled.pdf"), "")
		if noEvents {
			w.Rescan()
		}
		waitPending(t, w, 2)
		t0 := clock.Now()
		write(t, filepath.Join(dir, "filled.pdf"), "content")
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					clock.Advance(50 * time.Millisecond)
				}
			}
		}()
		defer close(stop)
		r := c.wait(t, "empty.pdf")
		if r.Size != 0 {
			t.Errorf("empty.pdf size %d, want 0", r.Size)
		}
		if waited := r.at.Sub(t0); waited < grace {
			t.Errorf("empty.pdf reported after %s of empty looks, want at least %s", waited, grace)
		}
		if r := c.wait(t, "filled.pdf"); r.Size != 7 {
			t.Errorf("filled.pdf size %d, want 7", r.Size)
		}
	})
}

// Only a Rescan can find a file here: events are off and the periodic scan
// is an hour away.
func TestRescanTriggersScan(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "first.pdf"), "1")
	w, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: time.Hour})
	c.wait(t, "first.pdf")
	write(t, filepath.Join(dir, "second.pdf"), "2")
	w.Rescan()
	w.Rescan() // merges, never blocks
	w.Rescan()
	c.wait(t, "second.pdf")
}

func TestPeriodicScan(t *testing.T) {
	dir := t.TempDir()
	_, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: 50 * time.Millisecond})
	write(t, filepath.Join(dir, "a.pdf"), "a")
	c.wait(t, "a.pdf")
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "target.pdf"), "target content")
	write(t, filepath.Join(outside, "sub", "beyond.pdf"), "beyond")
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("cannot make symbolic links here: %v", err)
		}
	}
	link(filepath.Join(outside, "target.pdf"), "link.pdf")
	link(filepath.Join(outside, "sub"), "dirlink")
	link(dir, "loop")
	link(filepath.Join(outside, "missing.pdf"), "dangling.pdf")
	w, c := start(t, Config{Root: dir, Recursive: true, ScanInterval: time.Hour})
	// A link is reported as what it is, never through it: the agent moves
	// the link itself aside and never reads its target.
	for _, name := range []string{"link.pdf", "dangling.pdf"} {
		r := c.wait(t, name)
		if r.Mode&fs.ModeSymlink == 0 || r.Path != filepath.Join(dir, name) {
			t.Errorf("report %+v, want the link itself, marked as a link", r.File)
		}
		if r.Size == int64(len("target content")) {
			t.Errorf("report %+v carries the target's size: the link was followed", r.File)
		}
	}
	write(t, filepath.Join(dir, "sentinel.pdf"), "s")
	w.Rescan()
	if r := c.wait(t, "sentinel.pdf"); r.Mode != 0 {
		t.Errorf("regular file reported with mode %v", r.Mode)
	}
	for _, r := range c.all() {
		if strings.HasPrefix(r.Rel, "dirlink/") || strings.HasPrefix(r.Rel, "loop/") {
			t.Errorf("reported %s through a directory link", r.Rel)
		}
	}
}

// A FIFO in the inbox is reported as one (the agent must not open it: a
// read would block until someone writes).
func TestFIFOReported(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs on Windows")
	}
	dir := t.TempDir()
	if err := mkfifo(filepath.Join(dir, "pipe.xml")); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	_, c := start(t, Config{Root: dir, ScanInterval: time.Hour, EmptyGrace: time.Millisecond})
	if r := c.wait(t, "pipe.xml"); r.Mode&fs.ModeNamedPipe == 0 {
		t.Errorf("report %+v, want a named pipe", r.File)
	}
}

// The set of files waiting for a second look stays bounded while a large
// listing flows through, and every file still comes out.
func TestBoundedPending(t *testing.T) {
	dir := t.TempDir()
	const n = 700 // several chunks
	for i := range n {
		write(t, filepath.Join(dir, fmt.Sprintf("f%04d.pdf", i)), "x")
	}
	const limit = 40
	var peak int
	_, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: time.Hour}, func(w *Watcher, c *collector) {
		w.maxPending = limit
		c.onReady = func(f File) {
			peak = max(peak, w.pendingCount())
			if err := os.Remove(f.Path); err != nil { // the agent claims it
				t.Error(err)
			}
		}
	})
	for i := range n {
		c.wait(t, fmt.Sprintf("f%04d.pdf", i))
	}
	if peak > limit+chunk {
		t.Errorf("pending peaked at %d, want at most %d", peak, limit+chunk)
	}
}

func TestMissingInbox(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "inbox")
	w, c := start(t, Config{Root: dir, ScanInterval: time.Hour})
	timeout := time.After(deadline)
	for w.Err() == nil {
		select {
		case <-timeout:
			t.Fatal("Err() stayed nil for a missing inbox")
		case <-time.After(5 * time.Millisecond):
		}
	}
	err := w.Err()
	if signagent.KindOf(err) != signagent.KindLocal || signagent.CodeOf(err) != signagent.CodeLocal || signagent.HintOf(err) == "" {
		t.Errorf("Err() = %v (kind %v, code %s, hint %q), want a local fault with a hint", err, signagent.KindOf(err), signagent.CodeOf(err), signagent.HintOf(err))
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("Err() = %q, want it to name the inbox", err)
	}
	write(t, filepath.Join(dir, "a.pdf"), "a")
	w.Rescan()
	c.wait(t, "a.pdf")
	// Events come back with the next set-up attempt (a few seconds).
	timeout = time.After(deadline)
	for w.Err() != nil {
		select {
		case <-timeout:
			t.Fatalf("Err() = %v, want nil once the inbox exists", w.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	write(t, filepath.Join(dir, "b.pdf"), "b") // found by an event: no scan is due
	c.wait(t, "b.pdf")
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no root":     {},
		"bad include": {Root: "/x", Include: []string{"[a-"}},
		"bad exclude": {Root: "/x", Exclude: []string{"a\\"}},
		"negative":    {Root: "/x", Settle: -time.Second},
	} {
		_, err := New(cfg)
		var e *signagent.Error
		if !errors.As(err, &e) || e.Kind != signagent.KindConfig || e.Hint == "" {
			t.Errorf("%s: New = %v, want a configuration error with a hint", name, err)
		}
	}
	w, err := New(Config{Root: "relative/inbox"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(w.cfg.Root) || w.cfg.Settle != DefaultSettle || w.cfg.ScanInterval != 0 || w.Info().ScanInterval != DefaultScanInterval || w.cfg.EmptyGrace != DefaultEmptyGrace {
		t.Errorf("defaults not applied: %+v", w.cfg)
	}
}

func TestRunMisuse(t *testing.T) {
	dir := t.TempDir()
	w, _ := start(t, Config{Root: dir})
	waitRunning(t, w)
	if err := w.Run(context.Background(), func(context.Context, File) {}); err == nil {
		t.Error("second concurrent Run returned nil, want an error")
	}
	w2, err := New(Config{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Run(context.Background(), nil); err == nil {
		t.Error("Run with a nil callback returned nil, want an error")
	}
}

func waitRunning(t *testing.T, w *Watcher) {
	t.Helper()
	timeout := time.After(deadline)
	for !w.running.Load() {
		select {
		case <-timeout:
			t.Fatal("Run did not start")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// When the inbox goes away, the watcher says so; when it comes back, events
// and scans resume by themselves.
func TestInboxRemovedAndBack(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "inbox")
	write(t, filepath.Join(dir, "a.pdf"), "a")
	w, c := start(t, Config{Root: dir, ScanInterval: time.Hour})
	c.wait(t, "a.pdf")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitErr(t, w, true)
	write(t, filepath.Join(dir, "b.pdf"), "b")
	waitErr(t, w, false)
	c.wait(t, "b.pdf")
	write(t, filepath.Join(dir, "c.pdf"), "c") // by an event: no scan is due
	c.wait(t, "c.pdf")
}

func waitErr(t *testing.T, w *Watcher, want bool) {
	t.Helper()
	timeout := time.After(deadline)
	for (w.Err() != nil) != want {
		select {
		case <-timeout:
			t.Fatalf("Err() = %v after %s, want error: %v", w.Err(), deadline, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// lockedBuffer collects log output from the watcher's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A lasting problem is logged once at Warn; its repetitions at Debug.
func TestLogsStateChangesOnce(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := filepath.Join(t.TempDir(), "missing")
	w, _ := start(t, Config{Root: dir, NoEvents: true, ScanInterval: 10 * time.Millisecond, Logger: log})
	timeout := time.After(deadline)
	for strings.Count(buf.String(), "level=DEBUG msg=\"cannot list inbox") < 3 {
		select {
		case <-timeout:
			t.Fatalf("no repeated scans logged within %s:\n%s", deadline, buf.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 {
		t.Errorf("%d Warn lines, want 1:\n%s", n, buf.String())
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitErr(t, w, false)
	for !strings.Contains(buf.String(), "level=INFO msg=\"inbox readable again\"") {
		select {
		case <-timeout:
			t.Fatalf("recovery not logged:\n%s", buf.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// When the kernel's event queue overflows, the watcher rescans, so files
// whose events were lost are still found. The callback holds the loop while
// more files are created than the kernel's queue can hold.
func TestEventOverflowRescans(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of files")
	}
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skip("needs Linux inotify to force a queue overflow")
	}
	var limit int
	if _, err := fmt.Sscan(string(b), &limit); err != nil || limit > 100_000 {
		t.Skipf("inotify queue holds %q events; too many to overflow here", strings.TrimSpace(string(b)))
	}
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	dir := t.TempDir()
	write(t, filepath.Join(dir, "first.pdf"), "1")
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once // the rescan reports first.pdf again
	_, c := start(t, Config{Root: dir, ScanInterval: time.Hour, Logger: log}, func(_ *Watcher, c *collector) {
		c.onReady = func(f File) {
			if f.Rel == "first.pdf" {
				once.Do(func() {
					close(held)
					<-release
				})
			}
		}
	})
	select {
	case <-held:
	case <-time.After(deadline):
		t.Fatal("first.pdf was not reported")
	}
	n := limit + limit/4
	want := make(map[string]bool, n)
	for i := range n {
		rel := fmt.Sprintf("burst-%05d.pdf", i)
		write(t, filepath.Join(dir, rel), "x")
		want[rel] = true
	}
	close(release)
	timeout := time.After(4 * deadline)
	for len(want) > 0 {
		for _, r := range c.all() {
			delete(want, r.Rel)
		}
		select {
		case <-timeout:
			t.Fatalf("%d of %d files not reported", len(want), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !strings.Contains(buf.String(), "overflowed; rescanning") {
		t.Errorf("no overflow logged; log:\n%.2000s", buf.String())
	}
}
