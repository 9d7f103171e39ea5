package watcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// Settle in the close-write tests: the watcher's clock never gets this far,
// so a report can only come from the short look after a close.
const closeSettle = time.Hour

// advanceUntil moves clock on by step, a real few milliseconds apart, until
// cond holds; it fails the test once the clock has moved limit, or after
// deadline.
func advanceUntil(t *testing.T, clock *clockwork.FakeClock, step, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(deadline)
	for moved := time.Duration(0); !cond(); moved += step {
		if moved >= limit {
			t.Fatalf("%s: not within %s of the watcher's clock", what, limit)
		}
		select {
		case <-timeout:
			t.Fatalf("%s: not within %s", what, deadline)
		case <-time.After(5 * time.Millisecond):
		}
		clock.Advance(step)
	}
}

// startClosing starts a watcher on cfg and waits until it receives close
// events, so that the test's writes are seen.
func startClosing(t *testing.T, cfg Config) (*Watcher, *collector) {
	t.Helper()
	w, c := start(t, cfg)
	timeout := time.After(deadline)
	for !w.closes.Load() {
		select {
		case <-timeout:
			t.Fatalf("close events not on within %s", deadline)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return w, c
}

func openAppend(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeString(t *testing.T, f *os.File, s string) {
	t.Helper()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func closeFile(t *testing.T, f *os.File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// reportedOnlyWithSize fails the test if rel was ever reported with another
// size than size.
func reportedOnlyWithSize(t *testing.T, c *collector, rel string, size int64) {
	t.Helper()
	for _, r := range c.all() {
		if r.Rel == rel && r.Size != size {
			t.Errorf("%s reported with size %d, want only the final %d", rel, r.Size, size)
		}
	}
}

// A file closed by its writer on a local folder is reported after the short
// look, long before Settle.
func TestCloseWriteShortensSettle(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	w, c := startClosing(t, Config{Root: dir, Settle: closeSettle, Clock: clock})
	write(t, filepath.Join(dir, "closed.pdf"), "0123456789")
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "closed.pdf reported", func() bool { return len(c.all()) > 0 })
	r := c.wait(t, "closed.pdf")
	if r.Size != 10 {
		t.Errorf("size %d, want 10", r.Size)
	}
	if n := w.nshort.Load(); n != 1 {
		t.Errorf("%d files reported by a short look, want 1", n)
	}
}

// A file written under an ignored name and renamed into the inbox, as
// producers are asked to deliver, is reported after the short look; one
// renamed in while its writer still holds it open waits for the close.
func TestRenamedInShortensSettle(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	w, c := startClosing(t, Config{Root: dir, Settle: closeSettle, Clock: clock})
	write(t, filepath.Join(dir, "done.pdf.partial"), "0123456789")
	f := openAppend(t, filepath.Join(dir, "open.pdf.partial"))
	writeString(t, f, "01234")
	for _, n := range []string{"done.pdf", "open.pdf"} {
		if err := os.Rename(filepath.Join(dir, n+".partial"), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "done.pdf reported", func() bool { return len(c.all()) > 0 })
	if r := c.wait(t, "done.pdf"); r.Size != 10 {
		t.Errorf("done.pdf size %d, want 10", r.Size)
	}
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "short look at open.pdf", func() bool { return w.nclosed.Load() >= 2 })
	c.never(t, "open.pdf")
	writeString(t, f, "56789")
	closeFile(t, f)
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "open.pdf reported", func() bool { return len(c.all()) > 1 })
	c.wait(t, "open.pdf")
	reportedOnlyWithSize(t, c, "open.pdf", 10)
}

// A writer that closes and reopens the file to go on writing holds it open
// at the short look: the file waits, and is reported, with its final size,
// only after the last close.
func TestCloseThenReopenWaits(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	w, c := startClosing(t, Config{Root: dir, Settle: closeSettle, Clock: clock})
	p := filepath.Join(dir, "reopened.pdf")
	f := openAppend(t, p)
	writeString(t, f, "first part;")
	closeFile(t, f)
	f = openAppend(t, p)
	writeString(t, f, "second part;")
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "short look after the first close", func() bool { return w.nclosed.Load() >= 1 })
	clock.Advance(closeQuiet) // any other look the first close could bring
	c.never(t, "reopened.pdf")
	writeString(t, f, "last part")
	closeFile(t, f)
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "reopened.pdf reported", func() bool { return len(c.all()) > 0 })
	c.wait(t, "reopened.pdf")
	reportedOnlyWithSize(t, c, "reopened.pdf", int64(len("first part;second part;last part")))
}

// Two writers: the first one's close does not make the file ready while the
// second still holds it open, even when the second writes nothing for a
// while.
func TestCloseWhileAnotherWriterHoldsIt(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	w, c := startClosing(t, Config{Root: dir, Settle: closeSettle, Clock: clock})
	p := filepath.Join(dir, "shared.pdf")
	a, b := openAppend(t, p), openAppend(t, p)
	writeString(t, a, strings.Repeat("a", 100))
	closeFile(t, a)
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "short look after the first writer's close", func() bool { return w.nclosed.Load() >= 1 })
	for range 5 {
		clock.Advance(closeQuiet)
		time.Sleep(5 * time.Millisecond)
	}
	c.never(t, "shared.pdf")
	writeString(t, b, strings.Repeat("b", 100))
	closeFile(t, b)
	advanceUntil(t, clock, closeQuiet/2, closeSettle/2, "shared.pdf reported", func() bool { return len(c.all()) > 0 })
	c.wait(t, "shared.pdf")
	reportedOnlyWithSize(t, c, "shared.pdf", 200)
}

// A network share's writers are on other machines and a done marker is the
// producer's own signal: there, and without events, Settle decides alone.
func TestCloseWriteOnlyOnLocalFolders(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		tune []func(*Watcher, *collector)
	}{
		"share":    {tune: []func(*Watcher, *collector){pretend(remoteFS("smb"))}},
		"noEvents": {cfg: Config{NoEvents: true, ScanInterval: closeQuiet}},
		"marker":   {cfg: Config{DoneMarker: true}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			clock := newFakeClock()
			cfg := tc.cfg
			cfg.Root, cfg.Settle, cfg.Clock = dir, time.Minute, clock
			w, c := start(t, cfg, tc.tune...)
			write(t, filepath.Join(dir, "a.pdf"), "0123456789")
			if cfg.DoneMarker {
				write(t, filepath.Join(dir, "a.pdf.done"), "")
			}
			t0 := clock.Now()
			advanceUntil(t, clock, cfg.Settle/20, 10*cfg.Settle, "a.pdf reported", func() bool { return len(c.all()) > 0 })
			r := c.wait(t, "a.pdf")
			if waited := r.at.Sub(t0); waited < cfg.Settle {
				t.Errorf("reported %s after it was written by the watcher's clock, want at least Settle (%s)", waited, cfg.Settle)
			}
			if n := w.nclosed.Load(); n != 0 {
				t.Errorf("%d short looks, want none", n)
			}
		})
	}
}

// The kernel tells a file held open for writing from one that is not.
func TestOpenForWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	f := openAppend(t, p)
	if busy, known := openForWrite(p); !known || !busy {
		t.Errorf("open for writing: openForWrite = %v, %v; want true, true", busy, known)
	}
	closeFile(t, f)
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if busy, known := openForWrite(p); !known || busy {
		t.Errorf("open for reading only: openForWrite = %v, %v; want false, true", busy, known)
	}
	if _, known := openForWrite(filepath.Join(t.TempDir(), "missing")); known {
		t.Error("missing file: openForWrite answered")
	}
}
