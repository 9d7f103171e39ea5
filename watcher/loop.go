package watcher

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// loop is one Run. Every field is owned by the goroutine that called Run.
type loop struct {
	ctx   context.Context
	w     *Watcher
	cfg   *Config
	ready func(context.Context, File)
	pend  *pending
	epoch time.Time // readiness times are durations since epoch, by cfg.Now

	fw         *fsnotify.Watcher // nil while events are off or failed
	watched    map[string]uint64 // watched directory (absolute) -> scan generation that last saw it
	retry      *time.Timer       // pending attempt to set events up again
	retryDelay time.Duration

	sc        *scan // nil when no scan is under way
	scanAgain bool  // a full scan was asked for while one was under way
	gen       uint64

	due chan time.Time // closed: "do not wait"
}

// scan is a directory walk in progress, resumable chunk by chunk.
type scan struct {
	full       bool     // from the root; sweeps stale watches when done
	gen        uint64   // generation of a full scan
	stack      []string // directories (rel) still to list; "" is the root
	dir        *os.File // directory being listed
	dirRel     string
	addFailed  bool // a sub-directory watch could not be added
	rootFailed bool
	dirs       int // directories listed
	started    time.Time
}

func newLoop(ctx context.Context, w *Watcher, ready func(context.Context, File)) *loop {
	due := make(chan time.Time)
	close(due)
	return &loop{ctx: ctx, w: w, cfg: &w.cfg, ready: ready, pend: newPending(), epoch: w.cfg.Now(), retryDelay: watchRetryMin, due: due}
}

func (l *loop) close() {
	if l.sc != nil && l.sc.dir != nil {
		l.sc.dir.Close()
	}
	l.stopEvents()
	if l.retry != nil {
		l.retry.Stop()
	}
}

func (l *loop) run() {
	if !l.cfg.NoEvents {
		l.startEvents()
	}
	l.requestScan()
	tick := time.NewTicker(l.cfg.ScanInterval)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if l.ctx.Err() != nil {
			return
		}
		var wake <-chan time.Time
		busy := l.work()
		l.w.npending.Store(int64(l.pend.len()))
		if busy {
			wake = l.due
		} else if e := l.pend.front(); e != nil {
			timer.Reset(time.Duration(e.seen + int64(l.cfg.Settle) - l.now()))
			wake = timer.C
		}
		var events chan fsnotify.Event
		var errs chan error
		var retry <-chan time.Time
		if l.fw != nil {
			events, errs = l.fw.Events, l.fw.Errors
		}
		if l.retry != nil {
			retry = l.retry.C
		}
		select {
		case <-l.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				l.eventsFailed(errors.New("event channel closed"))
				continue
			}
			l.event(ev)
		case err, ok := <-errs:
			if !ok {
				l.eventsFailed(errors.New("event channel closed"))
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				l.w.log.Info("file event queue overflowed; rescanning")
				l.requestScan()
				continue
			}
			l.eventsFailed(err)
		case <-retry:
			l.retry = nil
			l.startEvents()
			l.requestScan()
		case <-l.w.rescan:
			l.requestScan()
		case <-tick.C:
			l.requestScan()
		case <-wake:
		}
	}
}

// now returns the time since the loop started by cfg.Now. Time.Sub uses the
// monotonic clock when cfg.Now provides one, so a wall-clock step neither
// stalls nor hurries readiness.
func (l *loop) now() int64 { return int64(l.cfg.Now().Sub(l.epoch)) }

func (l *loop) abs(rel string) string {
	if rel == "" {
		return l.cfg.Root
	}
	return filepath.Join(l.cfg.Root, filepath.FromSlash(rel))
}

// work takes the looks that are due (at most a chunk) and one chunk of the
// scan under way, and reports whether more work is ready right now.
func (l *loop) work() bool {
	settle := int64(l.cfg.Settle)
	for range chunk {
		e := l.pend.front()
		if e == nil || l.now()-e.seen < settle {
			break
		}
		if e := l.pend.pop(); l.pend.current(e) {
			l.look(e)
		}
		if l.ctx.Err() != nil {
			return false
		}
	}
	if l.sc != nil && l.pend.len() < l.w.maxPending {
		l.scanStep()
	}
	if e := l.pend.front(); e != nil && l.now()-e.seen >= settle {
		return true
	}
	return l.sc != nil && l.pend.len() < l.w.maxPending
}

// look takes the second (or later) look at a popped entry and reports it,
// forgets it, or puts it back for another look.
func (l *loop) look(e *entry) {
	p := l.abs(e.rel)
	fi, isDir, err := statFile(p)
	now := l.now()
	if err != nil || isDir {
		l.pend.drop(e)
		return
	}
	var marker string
	if e.marker != "" {
		marker = l.abs(e.marker)
		if _, err := os.Lstat(marker); err != nil {
			l.pend.drop(e)
			return
		}
	}
	size, mtime := fi.Size(), fi.ModTime().UnixNano()
	if size != e.size || mtime != e.mtime {
		if size == 0 && e.size != 0 {
			e.emptySince = now
		}
		e.size, e.mtime, e.seen = size, mtime, now
		l.pend.push(e)
		return
	}
	if size == 0 && now-e.emptySince < int64(l.cfg.EmptyGrace) {
		e.seen = now
		l.pend.push(e)
		return
	}
	if size > 0 && fi.Mode().IsRegular() && heldByOther(p) {
		e.seen = now
		l.pend.push(e)
		return
	}
	l.pend.drop(e)
	f := File{Path: p, Rel: e.rel, Size: size, ModTime: time.Unix(0, mtime), Marker: marker, Mode: fi.Mode().Type()}
	l.ready(l.ctx, f)
}

// consider takes the first look at a file (rel, base name) found by a scan
// (d non-nil) or named by an event, and queues it for its second look unless
// limit files already wait.
func (l *loop) consider(rel, name string, d fs.DirEntry, limit int) {
	marker := ""
	if l.cfg.DoneMarker {
		if isMarker(name) {
			marker = rel
			rel = rel[:len(rel)-len(markerSuffix)]
			name = name[:len(name)-len(markerSuffix)]
			d = nil
			if isMarker(name) {
				return // markers are never reported, even as targets
			}
		} else if d != nil {
			return // a scan finds the file through its marker
		}
	}
	if Ignored(name) || !l.w.pats.match(rel) {
		return
	}
	if e := l.pend.get(rel); e != nil {
		if d == nil {
			l.refresh(e) // an event: the file changed now, not at its next look
		}
		return
	}
	if l.pend.len() >= limit {
		return
	}
	if l.cfg.DoneMarker && marker == "" {
		marker = rel + markerSuffix
		if _, err := os.Lstat(l.abs(marker)); err != nil {
			return
		}
	}
	var fi fs.FileInfo
	var err error
	switch {
	case d == nil:
		var isDir bool
		fi, isDir, err = statFile(l.abs(rel))
		if isDir {
			return
		}
	case d.IsDir():
		return
	default:
		// Links, FIFOs, sockets and devices are reported too (File.Mode):
		// the agent moves the entry itself aside rather than leave it.
		fi, err = d.Info()
	}
	if err != nil || fi == nil {
		return
	}
	now := l.now()
	size := fi.Size()
	e := &entry{rel: rel, marker: marker, size: size, mtime: fi.ModTime().UnixNano(), seen: now}
	if size == 0 {
		e.emptySince = now
	}
	l.pend.push(e)
}

// statFile looks at p itself, never through a symbolic link. It reports
// directories with isDir; anything else (a regular file, or a link, FIFO,
// socket or device, which the agent refuses) comes back with its own
// information.
func statFile(p string) (fi fs.FileInfo, isDir bool, err error) {
	fi, err = os.Lstat(p)
	if err != nil {
		return nil, false, err
	}
	return fi, fi.IsDir(), nil
}

// requestScan starts a full scan, or asks for one after the scan under way.
func (l *loop) requestScan() {
	if l.sc != nil {
		l.scanAgain = true
		return
	}
	l.gen++
	l.sc = &scan{full: true, gen: l.gen, stack: []string{""}, started: time.Now()}
}

// scanDir lists one (new) sub-directory, within the scan under way if any.
func (l *loop) scanDir(rel string) {
	if l.sc == nil {
		l.sc = &scan{gen: l.gen}
	}
	l.sc.stack = append(l.sc.stack, rel)
}

// scanStep reads one chunk of the directory being listed, opening the next
// directory first if needed, and finishes the scan at the end.
func (l *loop) scanStep() {
	sc := l.sc
	if sc.dir == nil {
		if len(sc.stack) == 0 {
			l.scanDone()
			return
		}
		rel := sc.stack[len(sc.stack)-1]
		sc.stack = sc.stack[:len(sc.stack)-1]
		p := l.abs(rel)
		if rel != "" && !l.addWatch(p) {
			sc.addFailed = true
		}
		f, err := os.Open(p)
		if err != nil {
			if rel == "" {
				l.w.setScanErr(err)
				sc.rootFailed = true
				sc.stack = nil
			} else {
				l.w.log.Debug("cannot list sub-folder", "dir", rel, "err", err)
			}
			return
		}
		sc.dir, sc.dirRel = f, rel
		sc.dirs++
	}
	ents, err := sc.dir.ReadDir(chunk)
	for _, d := range ents {
		l.scanEntry(sc.dirRel, d)
	}
	if err != nil {
		if err != io.EOF {
			if sc.dirRel == "" {
				l.w.setScanErr(err)
				sc.rootFailed = true
			} else {
				l.w.log.Debug("cannot list sub-folder", "dir", sc.dirRel, "err", err)
			}
		} else if sc.dirRel == "" && sc.full {
			l.w.setScanErr(nil)
		}
		sc.dir.Close()
		sc.dir = nil
	}
}

func (l *loop) scanEntry(dirRel string, d fs.DirEntry) {
	name := d.Name()
	rel := name
	if dirRel != "" {
		rel = dirRel + "/" + name
	}
	if d.IsDir() {
		if l.cfg.Recursive && name[0] != '.' && !l.w.pats.excludesDir(rel) {
			l.sc.stack = append(l.sc.stack, rel)
		}
		return
	}
	// The scan reads a chunk only while there is room, and takes all of it,
	// so the pending set overshoots maxPending by at most one chunk.
	l.consider(rel, name, d, math.MaxInt)
}

func (l *loop) scanDone() {
	sc := l.sc
	l.sc = nil
	if sc.full && !sc.rootFailed {
		l.w.log.Debug("scan done", "dirs", sc.dirs, "pending", l.pend.len(), "took", time.Since(sc.started))
	}
	if sc.full && !sc.rootFailed && l.fw != nil {
		for p, g := range l.watched {
			if g < sc.gen && p != l.cfg.Root {
				_ = l.fw.Remove(p) // may be gone already
				delete(l.watched, p)
			}
		}
		if !sc.addFailed {
			l.w.setWatchErr(nil)
		}
	}
	if l.scanAgain {
		l.scanAgain = false
		l.requestScan()
	}
}

// startEvents sets up file events on the root. On failure it records why and
// tries again later, with growing waits.
func (l *loop) startEvents() {
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		if err = fw.Add(l.cfg.Root); err != nil {
			fw.Close()
		}
	}
	if err != nil {
		l.w.setWatchErr(err)
		l.retry = time.NewTimer(l.retryDelay)
		l.retryDelay = min(l.retryDelay*2, watchRetryMax)
		return
	}
	l.fw = fw
	l.watched = map[string]uint64{l.cfg.Root: l.gen}
	l.retryDelay = watchRetryMin
	l.w.setWatchErr(nil)
}

func (l *loop) stopEvents() {
	if l.fw != nil {
		l.fw.Close()
		l.fw, l.watched = nil, nil
	}
}

// eventsFailed drops the event watch after an error, scans, and sets the
// watch up again later.
func (l *loop) eventsFailed(err error) {
	l.stopEvents()
	l.w.setWatchErr(err)
	if l.retry == nil {
		l.retry = time.NewTimer(l.retryDelay)
		l.retryDelay = min(l.retryDelay*2, watchRetryMax)
	}
	l.requestScan()
}

// addWatch watches the sub-directory p (recursive mode) and reports whether
// it is watched; without events it has nothing to do and reports true.
func (l *loop) addWatch(p string) bool {
	if l.fw == nil {
		return true
	}
	if _, ok := l.watched[p]; !ok {
		if err := l.fw.Add(p); err != nil {
			l.w.setWatchErr(err)
			return false
		}
	}
	l.watched[p] = l.gen
	return true
}

// event turns a file event into a look at the path it names.
func (l *loop) event(ev fsnotify.Event) {
	if ev.Name == l.cfg.Root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			l.eventsFailed(errors.New("the inbox folder was removed or renamed"))
		}
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		// Pending files find out at their next look; a watched directory
		// that went away stops being watched.
		if _, ok := l.watched[ev.Name]; ok {
			_ = l.fw.Remove(ev.Name)
			delete(l.watched, ev.Name)
		}
		return
	}
	rel, ok := l.relOf(ev.Name)
	if !ok {
		return
	}
	name := path.Base(rel)
	if l.cfg.Recursive && ev.Has(fsnotify.Create) {
		// Only a Create can bring a new directory (mkdir or rename).
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			l.dirAppeared(rel, name)
			return
		}
	}
	l.consider(rel, name, nil, 2*l.w.maxPending)
}

// relOf returns the inbox-relative path of an event's path, or false when it
// lies where the watcher does not look.
func (l *loop) relOf(p string) (string, bool) {
	r, err := filepath.Rel(l.cfg.Root, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", false
	}
	rel := filepath.ToSlash(r)
	dirs := strings.Split(rel, "/")
	if len(dirs) > 1 && !l.cfg.Recursive {
		return "", false
	}
	for i, c := range dirs[:len(dirs)-1] {
		if c == "" || c[0] == '.' || l.w.pats.excludesDir(strings.Join(dirs[:i+1], "/")) {
			return "", false
		}
	}
	return rel, true
}

// dirAppeared watches and lists a directory that appeared in the inbox.
func (l *loop) dirAppeared(rel, name string) {
	if !l.cfg.Recursive || name[0] == '.' || l.w.pats.excludesDir(rel) {
		return
	}
	l.addWatch(l.abs(rel))
	l.scanDir(rel)
}

// refresh takes an event-driven look at a pending file: when it changed
// since its last look, the settle period restarts now, so a file is ready
// one Settle after its last write rather than up to two.
func (l *loop) refresh(e *entry) {
	fi, isDir, err := statFile(l.abs(e.rel))
	if err != nil || isDir {
		return // its due look drops it
	}
	size, mtime := fi.Size(), fi.ModTime().UnixNano()
	if size == e.size && mtime == e.mtime {
		return
	}
	now := l.now()
	n := *e
	if size == 0 && e.size != 0 {
		n.emptySince = now
	}
	n.size, n.mtime, n.seen = size, mtime, now
	l.pend.drop(e)
	l.pend.push(&n)
}
