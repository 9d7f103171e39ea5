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
	"github.com/jonboulle/clockwork"
	"github.com/signagent/signagent/internal/winname"
)

// closeQuiet is how long after a writer closed a file, or the file was
// renamed in (Linux, local folders), the short look comes that may find it
// ready: the same size and mtime as at the event, nobody holding it open
// for writing. Config.Settle still bounds the wait when it is shorter.
const closeQuiet = 100 * time.Millisecond

// loop is one Run. Every field is owned by the goroutine that called Run.
type loop struct {
	ctx   context.Context
	w     *Watcher
	cfg   *Config
	ready func(context.Context, []File)
	// found holds the files reported in the current round of looks, and
	// their entries, until flush hands them to ready.
	found   []File
	foundAt []*entry
	pend    *pending
	clock   clockwork.Clock
	epoch   time.Time // readiness times are durations since epoch, by clock

	fw         *fsnotify.Watcher // nil while events are off or failed
	watched    map[string]uint64 // watched directory (absolute) -> scan generation that last saw it
	retry      clockwork.Timer   // pending attempt to set events up again
	retryDelay time.Duration
	// cw reports files closed after writing or renamed in (Linux, local
	// folders; nil otherwise): they get a short look at closeQuiet instead
	// of waiting for Settle. closeSeq numbers those events.
	cw       *closeWatch
	closeSeq uint64

	sc        *scan // nil when no scan is under way
	scanAgain bool  // a full scan was asked for while one was under way
	againDeep bool  // ... and it must be deep
	gen       uint64
	lastDeep  time.Time // when the last deep scan started
	fs        FS
	interval  time.Duration
	tick      clockwork.Ticker

	// dirs remembers, per directory (rel), what its last listing found, so
	// a shallow scan can skip a directory that has not changed.
	dirs map[string]*dirState
	// known holds files reported and left in the inbox unchanged by the
	// callback (rel -> generation of the last full scan that listed them):
	// shallow scans do not look at them again; deep scans do.
	known map[string]uint64
	// baseGen: files found by full scans up to this generation are not
	// counted as unreported by events (they may predate the watch, or
	// their events were lost to an overflow).
	baseGen uint64

	due chan time.Time // closed: "do not wait"
}

// dirState is what the scans know about one directory.
type dirState struct {
	stamp  stamp
	since  time.Time // when stamp was first read
	gen    uint64    // last full scan that looked at it
	listed bool      // a complete listing was made while stamp was quiet
	subs   []string  // sub-directories (rel) that listing queued
}

// scan is a directory walk in progress, resumable chunk by chunk.
type scan struct {
	full       bool     // from the root; sweeps stale watches when done
	deep       bool     // lists every directory and looks at every file
	quiet      bool     // the directory being listed had a quiet stamp
	subs       []string // sub-directories queued by the directory being listed
	gen        uint64   // generation of a full scan
	stack      []string // directories (rel) still to list; "" is the root
	dir        *os.File // directory being listed
	dirRel     string
	addFailed  bool // a sub-directory watch could not be added
	rootFailed bool
	dirs       int // directories listed
	skipped    int // directories unchanged since their last listing
	started    time.Time
}

func newLoop(ctx context.Context, w *Watcher, ready func(context.Context, []File)) *loop {
	due := make(chan time.Time)
	close(due)
	return &loop{ctx: ctx, w: w, cfg: &w.cfg, ready: ready, pend: newPending(), clock: w.cfg.Clock, epoch: w.cfg.Clock.Now(),
		retryDelay: watchRetryMin, due: due, dirs: map[string]*dirState{}, known: map[string]uint64{}}
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
	l.detect(true)
	if !l.cfg.NoEvents {
		l.startEvents()
	}
	l.requestScan(true)
	l.tick = l.clock.NewTicker(l.interval)
	defer l.tick.Stop()
	timer := l.clock.NewTimer(time.Hour)
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
		} else if at, ok := l.nextDue(); ok {
			timer.Reset(time.Duration(at - l.now()))
			wake = timer.Chan()
		}
		var events chan fsnotify.Event
		var errs chan error
		var closes chan string
		var retry <-chan time.Time
		if l.fw != nil {
			events, errs = l.fw.Events, l.fw.Errors
		}
		if l.cw != nil {
			closes = l.cw.names
		}
		if l.retry != nil {
			retry = l.retry.Chan()
		}
		select {
		case <-l.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				l.eventsFailed(errors.New("event channel closed"))
				continue
			}
			if !l.w.dropEvents {
				l.event(ev)
			}
		case p := <-closes:
			if !l.w.dropEvents {
				l.closedWrite(p)
			}
		case err, ok := <-errs:
			if !ok {
				l.eventsFailed(errors.New("event channel closed"))
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				l.w.log.Info("file event queue overflowed; rescanning")
				l.baseGen = l.gen + 1
				l.requestScan(true)
				continue
			}
			l.eventsFailed(err)
		case <-retry:
			l.retry = nil
			l.startEvents()
			l.requestScan(true)
		case <-l.w.rescan:
			l.requestScan(true)
		case <-l.tick.Chan():
			l.requestScan(l.clock.Since(l.lastDeep)+l.interval/2 >= l.w.deepEvery)
		case <-wake:
		}
	}
}

// now returns the time since the loop started by its clock. The real clock
// measures it on the monotonic clock, so a wall-clock step neither stalls
// nor hurries readiness.
func (l *loop) now() int64 { return int64(l.clock.Since(l.epoch)) }

// quietAfterClose is how long after a close its short look comes.
func (l *loop) quietAfterClose() int64 { return int64(min(closeQuiet, l.cfg.Settle)) }

// nextDue returns when the next look falls due (loop time), if any is
// waiting.
func (l *loop) nextDue() (int64, bool) {
	at, ok := int64(0), false
	if e := l.pend.front(); e != nil {
		at, ok = e.seen+int64(l.cfg.Settle), true
	}
	if c, yes := l.pend.frontClose(); yes && (!ok || c.at+l.quietAfterClose() < at) {
		at, ok = c.at+l.quietAfterClose(), true
	}
	return at, ok
}

func (l *loop) abs(rel string) string {
	if rel == "" {
		return l.cfg.Root
	}
	return filepath.Join(l.cfg.Root, filepath.FromSlash(rel))
}

// work takes the looks that are due (at most a chunk) and one chunk of the
// scan under way, and reports whether more work is ready right now.
func (l *loop) work() bool {
	settle, quiet := int64(l.cfg.Settle), l.quietAfterClose()
	for range chunk {
		c, ok := l.pend.frontClose()
		if !ok || l.now()-c.at < quiet {
			break
		}
		l.pend.popClose()
		l.w.nclosed.Add(1)
		if l.pend.live(c) {
			l.lookClosed(c.e)
		}
		if l.ctx.Err() != nil {
			return false
		}
	}
	l.flush()
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
	l.flush()
	if l.sc != nil && l.pend.len() < l.w.maxPending {
		l.scanStep()
	}
	if at, ok := l.nextDue(); ok && at <= l.now() {
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
		e.size, e.mtime, e.seen, e.closed = size, mtime, now, 0
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
	l.report(e, p, marker, fi)
}

// lookClosed takes the short look at a file closed after writing or renamed
// in (closeQuiet ago), and reports it when it is the same size and mtime as
// at that event and the kernel says nobody holds it open for writing.
// Otherwise Settle decides, as for any file: a change restarts its wait, and
// another close brings another short look.
func (l *loop) lookClosed(e *entry) {
	p := l.abs(e.rel)
	fi, isDir, err := statFile(p)
	if err != nil || isDir {
		return // its due look drops it
	}
	if fi.Size() != e.size || fi.ModTime().UnixNano() != e.mtime {
		l.refresh(e)
		return
	}
	if !fi.Mode().IsRegular() {
		e.closed = 0
		return
	}
	if busy, known := openForWrite(p); busy || !known {
		e.closed = 0
		return
	}
	l.pend.drop(e)
	l.w.nshort.Add(1)
	l.report(e, p, "", fi)
}

// report adds a file found ready to the ones flush hands to the callback;
// e has been dropped from the pending set.
func (l *loop) report(e *entry, p, marker string, fi fs.FileInfo) {
	if e.found > l.baseGen && !e.evented && l.fw != nil {
		l.unreported()
	}
	f := File{Path: p, Rel: e.rel, Size: e.size, ModTime: time.Unix(0, e.mtime), Marker: marker, Mode: fi.Mode().Type()}
	l.found, l.foundAt = append(l.found, f), append(l.foundAt, e)
}

// flush hands the files reported since the last flush to the callback, in
// one call, then looks at each once the callback has returned.
func (l *loop) flush() {
	if len(l.found) == 0 {
		return
	}
	l.ready(l.ctx, l.found)
	for i, e := range l.foundAt {
		l.after(e)
		l.found[i], l.foundAt[i] = File{}, nil
	}
	l.found, l.foundAt = l.found[:0], l.foundAt[:0]
}

// unreported counts a file that a scan found and no event reported, and
// says so the first time.
func (l *loop) unreported() {
	if l.w.unreported.Add(1) == 1 {
		l.w.log.Warn("events are not arriving for this folder; relying on scans", "fs", l.fs.Type, "scan_interval", l.interval)
	}
}

// after looks at a reported file once the callback has returned. Gone
// (claimed): nothing to remember. Changed: it waits for its next look from
// now. Left as it was (ignored, unreadable, not ours to take): it is known,
// and only deep scans look at it again, so a share full of files the agent
// cannot take is not read again every few seconds.
func (l *loop) after(e *entry) {
	fi, isDir, err := statFile(l.abs(e.rel))
	if err != nil || isDir || l.pend.has(e.rel) {
		return
	}
	size, mtime := fi.Size(), fi.ModTime().UnixNano()
	if size == e.size && mtime == e.mtime {
		l.known[e.rel] = l.gen
		return
	}
	now := l.now()
	n := &entry{rel: e.rel, marker: e.marker, size: size, mtime: mtime, seen: now, evented: true}
	if size == 0 {
		n.emptySince = now
	}
	l.pend.push(n)
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
			e.evented = true
			l.refresh(e) // an event: the file changed now, not at its next look
		}
		return
	}
	var found uint64
	if d != nil {
		if g, ok := l.known[rel]; ok {
			l.known[rel] = max(g, l.sc.gen)
			if !l.sc.deep {
				return
			}
		} else if l.sc.full {
			found = l.sc.gen
		}
	} else {
		delete(l.known, rel) // an event: look again
	}
	if l.pend.len() >= limit {
		if d == nil {
			l.baseGen = l.gen + 1 // an event lost: its file is found by a scan
		}
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
	l.w.nstat.Add(1)
	if err != nil || fi == nil {
		return
	}
	now := l.now()
	size := fi.Size()
	e := &entry{rel: rel, marker: marker, size: size, mtime: fi.ModTime().UnixNano(), seen: now, found: found, evented: d == nil}
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
	fi, err = os.Lstat(winname.Extended(p)) // on Windows: CON.pdf is a file, not the console
	if err != nil {
		return nil, false, err
	}
	return fi, fi.IsDir(), nil
}

// requestScan starts a full scan, or asks for one after the scan under way.
// A deep scan lists every directory and looks at every file; a shallow one
// skips directories unchanged since their last listing and files already
// reported (known).
func (l *loop) requestScan(deep bool) {
	if l.sc != nil {
		l.scanAgain = true
		l.againDeep = l.againDeep || deep
		return
	}
	l.gen++
	l.sc = &scan{full: true, deep: deep, gen: l.gen, stack: []string{""}, started: l.clock.Now()}
	if deep {
		l.lastDeep = l.sc.started
		l.detect(false)
	}
}

// detect looks at the inbox's file system again and adopts the scan
// interval that follows; it logs what it found at start-up and when it
// changes (a share mounted over the inbox after start-up).
func (l *loop) detect(start bool) {
	fs, err := l.w.detect(l.cfg.Root)
	if err != nil {
		if start {
			l.interval = l.w.setFS(FS{})
		}
		return // the inbox is missing: the scan says so
	}
	if !start && fs == l.fs {
		return
	}
	l.fs = fs
	l.interval = l.w.setFS(fs)
	if l.tick != nil {
		l.tick.Reset(l.interval)
	}
	if fs.Remote {
		l.w.log.Info(fs.Unreliable(l.interval), "fs", fs.Type, "scan_interval", l.interval)
	} else {
		l.w.log.Info("watching inbox", "fs", fs.Type, "scan_interval", l.interval)
	}
}

// scanDir lists one (new) sub-directory, within the scan under way if any.
func (l *loop) scanDir(rel string) {
	if l.sc == nil {
		l.sc = &scan{gen: l.gen, deep: true}
	} else if l.sc.full {
		// Files in a new directory raise no events of their own: none
		// that the scan under way finds counts as unreported.
		l.baseGen = max(l.baseGen, l.sc.gen)
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
		if sc.full && l.unchanged(rel) {
			l.w.nskipped.Add(1)
			return
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
		sc.subs = nil
		sc.dirs++
		l.w.nlisted.Add(1)
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
		} else {
			if sc.dirRel == "" && sc.full {
				l.w.setScanErr(nil)
			}
			if ds := l.dirs[sc.dirRel]; sc.full && sc.quiet && ds != nil {
				ds.listed, ds.subs = true, sc.subs
			}
		}
		sc.dir.Close()
		sc.dir = nil
	}
}

// unchanged reads the stamp of directory rel for a full scan and reports
// whether its listing can be skipped: the scan is shallow, the file system
// keeps directory stamps current, and the stamp is the one a complete
// listing saw after it had been quiet for stampQuiet. Then the directory's
// known sub-directories are queued as if listed. Otherwise it notes whether
// the listing about to be made may stand for the directory later
// (scan.quiet).
func (l *loop) unchanged(rel string) bool {
	sc := l.sc
	sc.quiet = false
	st, err := dirStamp(l.abs(rel))
	ds := l.dirs[rel]
	if err != nil {
		delete(l.dirs, rel)
		return false
	}
	now := l.clock.Now()
	if ds == nil || ds.stamp != st {
		l.dirs[rel] = &dirState{stamp: st, since: now, gen: sc.gen}
		return false
	}
	ds.gen = sc.gen
	if ds.listed && !sc.deep && l.fs.stableDirs {
		sc.skipped++
		sc.stack = append(sc.stack, ds.subs...)
		return true
	}
	ds.listed = false
	sc.quiet = now.Sub(ds.since) >= l.w.quiet
	return false
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
			l.sc.subs = append(l.sc.subs, rel)
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
		l.w.log.Debug("scan done", "deep", sc.deep, "dirs", sc.dirs, "unchanged", sc.skipped, "pending", l.pend.len(), "took", l.clock.Since(sc.started))
	}
	if sc.full && sc.deep && !sc.rootFailed {
		// A deep scan listed every directory: what it did not see is gone.
		for rel, g := range l.known {
			if g < sc.gen {
				delete(l.known, rel)
			}
		}
		for rel, ds := range l.dirs {
			if ds.gen < sc.gen {
				delete(l.dirs, rel)
			}
		}
	}
	if sc.full && !sc.rootFailed && l.fw != nil {
		for p, g := range l.watched {
			if g < sc.gen && p != l.cfg.Root {
				l.unwatch(p)
			}
		}
		if !sc.addFailed {
			l.w.setWatchErr(nil)
		}
	}
	if l.scanAgain {
		deep := l.againDeep
		l.scanAgain, l.againDeep = false, false
		l.requestScan(deep)
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
		l.retry = l.clock.NewTimer(l.retryDelay)
		l.retryDelay = min(l.retryDelay*2, watchRetryMax)
		return
	}
	l.fw = fw
	l.baseGen = l.gen + 1 // files already there are found by the next scan
	l.watched = map[string]uint64{l.cfg.Root: l.gen}
	l.retryDelay = watchRetryMin
	l.w.setWatchErr(nil)
	l.startCloses()
}

// startCloses sets up close-after-write events on the root where they mean
// something: Linux, a local folder (a share's writers are elsewhere) and no
// done markers. Without them files wait for Settle; that is no error.
func (l *loop) startCloses() {
	if l.fs.Type == "" {
		l.detect(false) // the inbox was missing at start-up
	}
	if !closeWrites || l.fs.Remote || l.fs.Type == "" || l.cfg.DoneMarker {
		return
	}
	cw, err := newCloseWatch()
	if err == nil {
		if err = cw.add(l.cfg.Root); err != nil {
			cw.close()
		}
	}
	if err != nil {
		l.w.log.Debug("close events unavailable; files wait for settle", "err", err)
		return
	}
	l.cw = cw
	l.w.closes.Store(true)
}

func (l *loop) stopEvents() {
	if l.fw != nil {
		l.fw.Close()
		l.fw, l.watched = nil, nil
	}
	if l.cw != nil {
		l.cw.close()
		l.cw = nil
		l.w.closes.Store(false)
	}
}

// unwatch stops watching the directory p.
func (l *loop) unwatch(p string) {
	_ = l.fw.Remove(p) // may be gone already
	delete(l.watched, p)
	if l.cw != nil {
		l.cw.remove(p)
	}
}

// eventsFailed drops the event watch after an error, scans, and sets the
// watch up again later.
func (l *loop) eventsFailed(err error) {
	l.stopEvents()
	l.w.setWatchErr(err)
	if l.retry == nil {
		l.retry = l.clock.NewTimer(l.retryDelay)
		l.retryDelay = min(l.retryDelay*2, watchRetryMax)
	}
	l.requestScan(true)
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
		if l.cw != nil {
			_ = l.cw.add(p) // without it, files there wait for Settle
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
			l.unwatch(ev.Name)
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
	n.size, n.mtime, n.seen, n.closed = size, mtime, now, 0
	l.pend.drop(e)
	l.pend.push(&n)
}

// closedWrite takes note that a writer closed the file at p, or that it was
// renamed in: the file gets a short look closeQuiet from now (lookClosed),
// its size and mtime as of now being the ones that look must find again.
func (l *loop) closedWrite(p string) {
	rel, ok := l.relOf(p)
	if !ok || l.fs.Remote {
		return // a share mounted over the inbox since: its writers are elsewhere
	}
	if e := l.pend.get(rel); e != nil {
		e.evented = true
		l.refresh(e)
	} else {
		l.consider(rel, path.Base(rel), nil, 2*l.w.maxPending)
	}
	e := l.pend.get(rel)
	if e == nil || e.size == 0 {
		return // not ours to report, or empty: EmptyGrace decides
	}
	l.closeSeq++
	e.closed = l.closeSeq
	l.pend.pushClose(e, l.now())
}
