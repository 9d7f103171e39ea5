package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
)

// Defaults for the zero values of Config.
const (
	DefaultSettle       = 2 * time.Second
	DefaultScanInterval = 60 * time.Second
	DefaultEmptyGrace   = 30 * time.Second
)

const (
	// defaultMaxPending bounds the files waiting for their second look that
	// a scan adds; events may add as many again. About 200 bytes each, so a
	// few MB at most; a backlog flows at up to defaultMaxPending per Settle.
	defaultMaxPending = 32768
	// chunk is how many directory entries a scan reads, and how many due
	// looks the loop takes, before it attends to events again.
	chunk = 256
	// deepEvery is the longest time between full scans, which list every
	// directory and look at every file again (see Scans in the package
	// documentation).
	deepEvery = DefaultScanInterval
	// stampQuiet is how long a directory's modification time and size must
	// stay the same before a listing can stand for it: longer than the
	// coarsest timestamp granularity (2 s, FAT and some SMB servers), so a
	// change within the same tick as the last one cannot hide.
	stampQuiet = 2 * time.Second
	// Waits before setting up file events again after they failed.
	watchRetryMin = 2 * time.Second
	watchRetryMax = 5 * time.Minute
)

// Config describes one inbox. The zero value of every field but Root is a
// usable default.
type Config struct {
	Root      string // the inbox
	Recursive bool   // also watch and scan sub-directories (not dot-directories)
	// Include holds path.Match patterns on the base name, compared without
	// regard to case; empty means every name.
	Include []string
	// Exclude holds path.Match patterns on the base name or on the
	// slash-separated path relative to Root. In recursive mode they also
	// prune sub-directories.
	Exclude []string
	// Settle is how far apart two looks must be that find a file unchanged
	// (default DefaultSettle).
	Settle time.Duration
	// ScanInterval is the time between periodic scans (default: by the
	// inbox's file system, FS.DefaultScanInterval). Scans between two
	// deep ones (at least a minute apart) skip unchanged directories and
	// files already reported; see the package documentation.
	ScanInterval time.Duration
	// EmptyGrace is how long an empty file must stay empty before it is
	// reported (default DefaultEmptyGrace), so the agent can fail it with
	// EMPTY_FILE while a producer that creates first and writes later is
	// left alone.
	EmptyGrace time.Duration
	// DoneMarker: a file is ready only while "{name}.done" exists beside
	// it; markers are never reported.
	DoneMarker bool
	// NoEvents: do not use file events; scans only.
	NoEvents bool
	// Clock drives readiness and every timer of the watcher (default: the
	// real clock).
	Clock clockwork.Clock
	// Logger receives state changes (default: discard).
	Logger *slog.Logger
}

// File is a ready file.
type File struct {
	Path    string    // Root joined with Rel
	Rel     string    // slash-separated path relative to Root
	Size    int64     // size at the looks that found it settled
	ModTime time.Time // modification time at those looks
	Marker  string    // path of the done marker, "" when not in done-marker mode
	// Mode is the entry's type, from a look that does not follow links:
	// 0 for a regular file; otherwise a symbolic link, FIFO, socket or
	// device (or another reparse point on Windows), which must never be
	// read: the agent moves the entry itself to error/.
	Mode fs.FileMode
}

// Watcher watches one inbox. Create it with New and start it with Run.
type Watcher struct {
	cfg        Config // defaults filled in; Root absolute and clean
	pats       patterns
	log        *slog.Logger
	maxPending int
	rescan     chan struct{}
	running    atomic.Bool
	npending   atomic.Int64 // files waiting for a look, as last published by Run
	deepEvery  time.Duration
	quiet      time.Duration            // stampQuiet, shorter in tests
	detect     func(string) (FS, error) // DetectFS; tests pretend shares
	dropEvents bool                     // tests: events arrive and are ignored, as on a share
	// unreported counts files found by a scan that no event had reported.
	unreported atomic.Int64
	// Work counters, for tests and benchmarks: files whose metadata a
	// scan read, directories listed, directories skipped as unchanged.
	nstat, nlisted, nskipped atomic.Int64
	// Short looks that fell due after a close after writing (taken, or
	// dropped because the file changed or closed again since), and the
	// files they reported.
	nclosed, nshort atomic.Int64
	// closes is set while close-after-write events are on.
	closes atomic.Bool

	mu       sync.Mutex
	watchErr error         // why file events are unavailable; guarded by mu
	scanErr  error         // why the inbox cannot be listed; guarded by mu
	fs       FS            // the inbox's file system, as last detected; guarded by mu
	interval time.Duration // scan interval in use; guarded by mu
}

// Info is what the watcher knows about its inbox.
type Info struct {
	// FS is the inbox's file system; zero until Run has looked at it.
	FS FS
	// ScanInterval is the time between scans in use.
	ScanInterval time.Duration
	// Unreported counts the files found by a scan while file events were
	// on that no event had reported: when it grows, events do not arrive
	// for this folder and new files are found only by scanning.
	Unreported int64
}

// Info returns what the watcher knows about its inbox; safe to call at any
// time.
func (w *Watcher) Info() Info {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Info{FS: w.fs, ScanInterval: w.interval, Unreported: w.unreported.Load()}
}

// setFS records the inbox's file system and returns the scan interval that
// follows from it.
func (w *Watcher) setFS(fs FS) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fs = fs
	w.interval = w.cfg.ScanInterval
	if w.interval == 0 {
		w.interval = fs.DefaultScanInterval()
	}
	return w.interval
}

// New checks cfg, fills in its defaults and returns a Watcher. It does not
// touch the inbox: a missing inbox (an unmounted share) is reported by Err
// once Run starts, and retried.
func New(cfg Config) (*Watcher, error) {
	if cfg.Root == "" {
		return nil, signagent.ConfigError("watcher: no inbox folder given", "set the folder's inbox path", nil)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, signagent.ConfigError(fmt.Sprintf("watcher: inbox %q: %v", cfg.Root, err), "give the inbox as an absolute path", nil)
	}
	cfg.Root = filepath.Clean(root)
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"settle", &cfg.Settle, DefaultSettle},
		{"scan interval", &cfg.ScanInterval, 0}, // by file system, at Run
		{"empty grace", &cfg.EmptyGrace, DefaultEmptyGrace},
	} {
		if *d.v < 0 {
			return nil, signagent.ConfigError(fmt.Sprintf("watcher: %s is negative (%s)", d.name, *d.v), "use a positive duration such as \"2s\", or leave it out for the default", nil)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	pats := newPatterns(cfg.Include, cfg.Exclude)
	if bad := pats.validate(); bad != "" {
		return nil, signagent.ConfigError(fmt.Sprintf("watcher: malformed include/exclude pattern %q", bad), "patterns use * ? and [a-z] classes; check brackets and escapes", nil)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Until Run has looked at the inbox, a folder is taken as local.
	interval := cfg.ScanInterval
	if interval == 0 {
		interval = DefaultScanInterval
	}
	return &Watcher{
		cfg:        cfg,
		pats:       pats,
		log:        log.With("component", "watcher", "inbox", cfg.Root),
		maxPending: defaultMaxPending,
		deepEvery:  deepEvery,
		quiet:      stampQuiet,
		detect:     DetectFS,
		rescan:     make(chan struct{}, 1),
		interval:   interval,
	}, nil
}

// Run watches the inbox and calls ready with each ready file, from one
// goroutine, synchronously, until ctx is done; then it returns nil. The ctx
// given to ready is Run's. A callback that blocks holds back further
// reports. Inbox problems (missing, unreadable, no events) are not returned:
// Run keeps retrying and Err says what is wrong. Run returns an error only
// when misused (nil callback, or already running).
func (w *Watcher) Run(ctx context.Context, ready func(context.Context, File)) error {
	if ready == nil {
		return errors.New("watcher: Run needs a ready callback")
	}
	return w.RunGroups(ctx, func(ctx context.Context, files []File) {
		for _, f := range files {
			ready(ctx, f)
		}
	})
}

// RunGroups is Run with the files found ready in one round of looks handed
// to ready together, in the order they were found, so that the callback
// can record them together. ready must not keep the slice.
func (w *Watcher) RunGroups(ctx context.Context, ready func(context.Context, []File)) error {
	if ready == nil {
		return errors.New("watcher: RunGroups needs a ready callback")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watcher: Run is already running for " + w.cfg.Root)
	}
	defer w.running.Store(false)
	l := newLoop(ctx, w, ready)
	defer l.close()
	l.run()
	return nil
}

// pendingCount returns how many files wait for their next look.
func (w *Watcher) pendingCount() int { return int(w.npending.Load()) }

// Pending returns how many files of the inbox are settling: seen, not yet
// reported. It is published after each round of looks, so a file reported
// during a round still counts until the round ends; zero means nothing else
// is on its way (as far as events and scans have shown).
func (w *Watcher) Pending() int { return w.pendingCount() }

// Rescan asks for a full scan soon. It never blocks; requests made while one
// is outstanding merge into it.
func (w *Watcher) Rescan() {
	select {
	case w.rescan <- struct{}{}:
	default:
	}
}

// Err returns nil while the inbox is listed and file events work. Otherwise
// it returns why not: the inbox cannot be listed, or file events are
// unavailable and the watcher relies on scans alone. With Config.NoEvents,
// scans alone are the plan and not an error. The error is a
// *signagent.Error of kind local with a hint; it is safe to show.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.scanErr != nil {
		return w.scanErr
	}
	return w.watchErr
}

// setScanErr records why the inbox cannot be listed (nil: it can) and logs
// a change at Warn/Info, a repetition at Debug.
func (w *Watcher) setScanErr(err error) {
	w.mu.Lock()
	prev := w.scanErr
	if err != nil {
		w.scanErr = signagent.LocalError("cannot list inbox "+w.cfg.Root,
			"check that the folder exists, that its share is mounted and that the service account may read it; the agent retries by itself", err)
	} else {
		w.scanErr = nil
	}
	w.mu.Unlock()
	switch {
	case err != nil && prev == nil:
		w.log.Warn("cannot list inbox; will retry", "err", err)
	case err != nil:
		w.log.Debug("cannot list inbox; will retry", "err", err)
	case prev != nil:
		w.log.Info("inbox readable again")
	}
}

// setWatchErr records why file events are unavailable (nil: they work) and
// logs a change at Warn/Info, a repetition at Debug.
func (w *Watcher) setWatchErr(err error) {
	w.mu.Lock()
	prev := w.watchErr
	if err != nil {
		w.watchErr = signagent.LocalError(fmt.Sprintf("file events unavailable for inbox %s; scanning every %s instead", w.cfg.Root, w.interval),
			"files are still found, only later; on network shares this is expected, otherwise check the folder and the inotify limits (fs.inotify.max_user_watches)", err)
	} else {
		w.watchErr = nil
	}
	w.mu.Unlock()
	switch {
	case err != nil && prev == nil:
		w.log.Warn("file events unavailable; scanning only", "err", err)
	case err != nil:
		w.log.Debug("file events still unavailable", "err", err)
	case prev != nil:
		w.log.Info("file events available again")
	}
}
