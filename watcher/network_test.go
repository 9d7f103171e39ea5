package watcher

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pretend makes the watcher take its inbox for a file system of type typ.
func pretend(fs FS) func(*Watcher, *collector) {
	return func(w *Watcher, _ *collector) {
		w.detect = func(string) (FS, error) { return fs, nil }
	}
}

// shallow makes every periodic scan shallow and directory stamps quiet
// soon, so tests see skipped listings quickly.
func shallow(w *Watcher, _ *collector) {
	w.deepEvery = time.Hour
	w.quiet = 100 * time.Millisecond
}

func TestDetectFSLocal(t *testing.T) {
	fs, err := DetectFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A test machine's temporary folder is normally local; say what it is
	// either way, so a CI run on a share is not mistaken for a bug.
	t.Logf("temporary folder: %s (%q)", fs, fs.Type)
	if fs.Type == "" {
		t.Errorf("DetectFS = %+v, want a known type", fs)
	}
	if _, err := DetectFS(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("DetectFS of a missing folder returned no error")
	}
}

func TestFSMessages(t *testing.T) {
	smb := remoteFS("smb")
	if got := smb.DefaultScanInterval(); got != DefaultNetworkScanInterval {
		t.Errorf("smb interval %s, want %s", got, DefaultNetworkScanInterval)
	}
	if got := localFS.DefaultScanInterval(); got != DefaultScanInterval {
		t.Errorf("local interval %s, want %s", got, DefaultScanInterval)
	}
	want := "network share (smb): file events are unreliable here; new files are found by scanning every 3s"
	if got := smb.Unreliable(3 * time.Second); got != want {
		t.Errorf("Unreliable = %q, want %q", got, want)
	}
	if got := localFS.Unreliable(time.Minute); got != "" {
		t.Errorf("local Unreliable = %q, want empty", got)
	}
	if !remoteFS("smb").stableDirs || remoteFS("nfs").stableDirs {
		t.Error("NFS directory stamps are cached by clients; SMB's are not")
	}
}

// A network folder scans every DefaultNetworkScanInterval unless the
// configuration says otherwise, and says so at start-up.
func TestNetworkFolderInterval(t *testing.T) {
	for _, tc := range []struct {
		cfg  time.Duration
		want time.Duration
	}{{0, DefaultNetworkScanInterval}, {7 * time.Second, 7 * time.Second}} {
		t.Run(tc.cfg.String(), func(t *testing.T) {
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			w, _ := start(t, Config{Root: t.TempDir(), ScanInterval: tc.cfg, Logger: log}, pretend(remoteFS("smb")))
			waitFor(t, func() bool { return w.Info().FS.Type == "smb" })
			if got := w.Info().ScanInterval; got != tc.want {
				t.Errorf("ScanInterval = %s, want %s", got, tc.want)
			}
			want := fmt.Sprintf("network share (smb): file events are unreliable here; new files are found by scanning every %s", tc.want)
			waitFor(t, func() bool { return strings.Contains(logs.String(), want) })
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(deadline); !cond(); {
		if time.Now().After(end) {
			t.Fatal("condition not met within", deadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Shallow scans skip a directory that has not changed, find a file added
// to it, and never look again at files reported and left in place.
func TestShallowScanSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		write(t, filepath.Join(dir, fmt.Sprintf("left%d.pdf", i)), "data")
	}
	w, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: 20 * time.Millisecond}, pretend(remoteFS("smb")), shallow)
	for i := range 5 {
		c.wait(t, fmt.Sprintf("left%d.pdf", i))
	}
	waitFor(t, func() bool { return w.nskipped.Load() >= 3 })
	stats, listed := w.nstat.Load(), w.nlisted.Load()
	waitFor(t, func() bool { return w.nskipped.Load() >= 10 })
	if got := w.nstat.Load(); got != stats {
		t.Errorf("shallow scans of an unchanged folder read %d file(s), want none", got-stats)
	}
	if got := w.nlisted.Load(); got != listed {
		t.Errorf("shallow scans of an unchanged folder listed it %d time(s), want none", got-listed)
	}
	write(t, filepath.Join(dir, "new.pdf"), "data")
	c.wait(t, "new.pdf")
	// The listing that found new.pdf did not read the files left before.
	if got := w.nstat.Load() - stats; got != 1 {
		t.Errorf("finding one new file read %d files, want 1", got)
	}
	for _, r := range c.all() {
		if n := strings.Count(strings.Join(c.rels(), " "), r.Rel); n != 1 {
			t.Errorf("%s reported %d times between deep scans, want once", r.Rel, n)
		}
	}
}

// Where directory stamps are cached (NFS) every scan lists the folder, but
// the files reported and left are still not read again.
func TestShallowScanNFSListsEveryTime(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "left.pdf"), "data")
	w, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: 20 * time.Millisecond}, pretend(remoteFS("nfs")), shallow)
	c.wait(t, "left.pdf")
	stats, listed := w.nstat.Load(), w.nlisted.Load()
	waitFor(t, func() bool { return w.nlisted.Load() >= listed+5 })
	if w.nskipped.Load() != 0 {
		t.Error("an NFS directory listing was skipped")
	}
	if got := w.nstat.Load(); got != stats {
		t.Errorf("shallow scans read %d file(s) already reported, want none", got-stats)
	}
}

// A deep scan looks again at everything: a file left in the inbox is
// reported again.
func TestDeepScanReportsAgain(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "left.pdf"), "data")
	_, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: 20 * time.Millisecond}, pretend(remoteFS("smb")), func(w *Watcher, _ *collector) {
		w.deepEvery = 200 * time.Millisecond
		w.quiet = 0
	})
	waitFor(t, func() bool { return strings.Count(strings.Join(c.rels(), " "), "left.pdf") >= 2 })
}

// A file changed while the callback held it gets its next look at once,
// without waiting for a scan or an event.
func TestChangedDuringCallbackLookedAtAgain(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grow.pdf")
	write(t, p, "data")
	_, c := start(t, Config{Root: dir, NoEvents: true, ScanInterval: time.Hour}, func(_ *Watcher, c *collector) {
		c.onReady = func(f File) {
			if f.Size == 4 {
				write(t, p, "more data")
			}
		}
	})
	waitFor(t, func() bool {
		for _, r := range c.all() {
			if r.Size == 9 {
				return true
			}
		}
		return false
	})
}

// Files that a scan finds and no event named are counted, and the first
// is logged once; files with events are not counted.
func TestUnreportedByEvents(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, filepath.Join(dir, "before.pdf"), "data")
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			w, c := start(t, Config{Root: dir, ScanInterval: 50 * time.Millisecond, Logger: log}, func(w *Watcher, c *collector) {
				w.dropEvents = drop
				c.onReady = func(f File) { os.Remove(f.Path) } // claimed
			})
			c.wait(t, "before.pdf")
			waitErr(t, w, false)
			time.Sleep(200 * time.Millisecond) // a few scans: the first one is over
			for i := range 3 {
				write(t, filepath.Join(dir, fmt.Sprintf("new%d.pdf", i)), "data")
			}
			for i := range 3 {
				c.wait(t, fmt.Sprintf("new%d.pdf", i))
			}
			const msg = "events are not arriving for this folder; relying on scans"
			got, lines := w.Info().Unreported, strings.Count(logs.String(), msg)
			if drop && (got != 3 || lines != 1) {
				t.Errorf("events lost: Unreported = %d, %d log line(s); want 3 and 1", got, lines)
			}
			if !drop && (got != 0 || lines != 0) {
				t.Errorf("events working: Unreported = %d, %d log line(s); want 0 and 0", got, lines)
			}
		})
	}
}

// In recursive mode an unchanged sub-directory is skipped too, and a file
// added to it is found.
func TestShallowScanRecursive(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "sub", "deeper", "left.pdf"), "data")
	w, c := start(t, Config{Root: dir, Recursive: true, NoEvents: true, ScanInterval: 20 * time.Millisecond}, pretend(remoteFS("smb")), shallow)
	c.wait(t, "sub/deeper/left.pdf")
	waitFor(t, func() bool { return w.nskipped.Load() >= 9 }) // three directories, three scans
	listed := w.nlisted.Load()
	waitFor(t, func() bool { return w.nskipped.Load() >= 18 })
	if got := w.nlisted.Load(); got != listed {
		t.Errorf("unchanged directories listed %d more time(s), want none", got-listed)
	}
	write(t, filepath.Join(dir, "sub", "deeper", "new.pdf"), "data")
	c.wait(t, "sub/deeper/new.pdf")
	write(t, filepath.Join(dir, "sub", "other", "new2.pdf"), "data") // a new directory
	c.wait(t, "sub/other/new2.pdf")
}
