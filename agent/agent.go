package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/atomicfile"
	"github.com/signagent/signagent/internal/winname"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/watcher"
)

// Collision policies for outputs that already exist.
const (
	CollisionSuffix    = "suffix"
	CollisionOverwrite = "overwrite"
	CollisionFail      = "fail"
)

// Defaults for the agent's own knobs, which no configuration key sets. A
// Folder's limits left zero take config's defaults (the same values a
// configuration file gets), so the agent used as a library behaves as the
// service does.
const (
	DefaultHoldRetry = 2 * time.Minute
	DefaultHoldMin   = 5 * time.Second
	DefaultGrace     = 5 * time.Second
	DefaultInFlight  = 2
	// DefaultOutcomeUnknownAfter bounds how long look-ups may fail to
	// settle whether a send was taken before its batch waits for an
	// operator's decision.
	DefaultOutcomeUnknownAfter = config.DefaultOutcomeUnknownAfter
)

// idlePoll is how often a waiting batch looks whether the inbox still has
// files settling (adaptive batching).
const idlePoll = 20 * time.Millisecond

// Folder is one watched folder, ready to run: paths are absolute, the
// backend is built.
type Folder struct {
	Name    string
	Inbox   string
	Outbox  string
	Error   string
	Archive string // "" deletes originals after publication

	Backend signing.Backend
	Opts    signing.Options

	MaxFiles    int
	MaxBytes    int64
	MaxWait     time.Duration
	OnCollision string
	GiveUpAfter time.Duration
	// InFlight bounds the batches of this folder submitted at once.
	InFlight int

	// Watch configures the folder's watcher; Root is set to Inbox.
	Watch watcher.Config
}

// Agent runs the pipeline for every folder.
type Agent struct {
	Ledger   *ledger.DB
	Folders  []*Folder
	Logger   *slog.Logger
	Observer signagent.Observer
	// Clock is the time source of every wait and timestamp of the
	// pipeline (default: the real clock); tests drive a fake one.
	Clock clockwork.Clock
	// HoldMin and HoldRetry bound how long a held folder waits before it
	// tries again: from HoldMin, doubling, up to HoldRetry; a change in the
	// inbox cuts the wait short.
	HoldMin   time.Duration
	HoldRetry time.Duration
	// OutcomeUnknownAfter is how long look-ups may fail to settle whether
	// a send was taken before the batch waits for an operator's decision
	// (`signagent resolve`); default DefaultOutcomeUnknownAfter.
	OutcomeUnknownAfter time.Duration
	// Grace is how long running batches may finish after shutdown starts
	// before they are abandoned (they resume after restart).
	Grace time.Duration
	// Ready, if set, is called once every folder has reconciled and its
	// watcher started (sd_notify READY).
	Ready func()
	// OutputMode is the permission of the signed documents (and the
	// content copies beside detached signatures) published to the outboxes
	// (default 0640, config's output_mode).
	OutputMode os.FileMode

	mu      sync.Mutex
	runners map[string]*runner
}

// Run reconciles every folder, then watches and signs until ctx is done.
// It returns nil after a clean shutdown.
func (a *Agent) Run(ctx context.Context) error {
	a.defaults()
	intake, stopIntake := context.WithCancel(ctx)
	defer stopIntake()
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	var runners []*runner
	for _, f := range a.Folders {
		r, err := a.newRunner(f)
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	// Delayed retries (requeues, held publications) end with the work
	// context; the ledger already says where each of their documents stands.
	defer func() {
		stopWork()
		for _, r := range runners {
			r.later.Wait()
		}
	}()
	a.mu.Lock()
	a.runners = map[string]*runner{}
	for _, r := range runners {
		a.runners[r.f.Name] = r
	}
	a.mu.Unlock()

	for _, r := range runners {
		if err := r.reconcile(work); err != nil {
			return fmt.Errorf("reconcile %s: %w", r.f.Name, err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(runners))
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(intake, work); err != nil {
				errc <- fmt.Errorf("folder %s: %w", r.f.Name, err)
				stopIntake()
			}
		}()
	}
	if a.Ready != nil {
		a.Ready()
	}
	a.Logger.Info("agent started", "folders", len(runners))
	<-intake.Done()
	a.Logger.Info("stopping: intake closed, finishing running batches", "grace", a.Grace)

	// Give running batches Grace to finish; then abandon them: the ledger
	// already says where each one stands.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := a.Clock.NewTimer(a.Grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.Chan():
		stopWork()
		<-done
	}
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	a.Logger.Info("stopped")
	return nil
}

func (a *Agent) defaults() {
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	if a.Observer == nil {
		a.Observer = signagent.NopObserver{}
	}
	if a.Clock == nil {
		a.Clock = clockwork.NewRealClock()
	}
	if a.OutputMode == 0 {
		a.OutputMode = filePerm
	}
	if a.HoldRetry <= 0 {
		a.HoldRetry = DefaultHoldRetry
	}
	if a.HoldMin <= 0 {
		a.HoldMin = DefaultHoldMin
	}
	a.HoldMin = min(a.HoldMin, a.HoldRetry)
	if a.Grace <= 0 {
		a.Grace = DefaultGrace
	}
	if a.OutcomeUnknownAfter <= 0 {
		a.OutcomeUnknownAfter = DefaultOutcomeUnknownAfter
	}
}

// Status is the queue report, with what only the running agent knows
// (watcher health) merged into the ledger's view.
func (a *Agent) Status(ctx context.Context) (*signagent.Status, error) {
	var names []string
	for _, f := range a.Folders {
		names = append(names, f.Name)
	}
	st, err := a.Ledger.Status(ctx, names)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range st.Folders {
		if r := a.runners[st.Folders[i].Name]; r != nil && r.w != nil {
			if err := r.w.Err(); err != nil {
				st.Folders[i].WatchError = err.Error()
			}
			st.Folders[i].Ignored = r.ignoredEntries()
			info := r.w.Info()
			st.Folders[i].FileSystem, st.Folders[i].Network = info.FS.Type, info.FS.Remote
			st.Folders[i].ScanInterval, st.Folders[i].Unreported = info.ScanInterval, info.Unreported
		}
	}
	return st, nil
}

// Health reports an error when the ledger cannot be written.
func (a *Agent) Health(ctx context.Context) error {
	return a.Ledger.Ping(ctx)
}

// item is a claimed document on its way through the folder's loop.
type item struct {
	doc *ledger.Doc
}

// runner is one folder's pipeline.
type runner struct {
	a   *Agent
	f   *Folder
	log *slog.Logger
	w   *watcher.Watcher

	queue chan *item    // claimed documents for the batcher
	slots chan struct{} // in-flight batch slots, held while a batch is at the backend
	// publishing bounds the batches being published; a batch takes one
	// before it gives its in-flight slot to the next batch.
	publishing chan struct{}

	// resume holds batches found open by reconcile; run starts their workers.
	resume []*ledger.Batch
	// pending holds documents found claimed by reconcile.
	pending []*ledger.Doc
	// later tracks the delayed retries (requeueLater, retryPublishLater),
	// which Run waits for after cancelling the work context.
	later sync.WaitGroup
	// heldBy is the Kind+1 of the problem holding the folder, 0 when it flows.
	heldBy atomic.Int32
	// holdMu makes a hold or a release change heldBy and the ledger's
	// record together: two batches, one failing and one succeeding, could
	// otherwise leave the ledger saying "held" while the folder flows.
	holdMu sync.Mutex
	// holdTries counts the attempts since the folder was last held, for
	// the hold's backoff (holdWait); release resets it.
	holdTries atomic.Int32
	// wakeMu guards wakeCh, closed (and replaced) to cut the waits of a
	// held folder short when the inbox changes (holdSleep).
	wakeMu   sync.Mutex
	wakeCh   chan struct{}
	lastWake time.Time
	// heldSince and nextTry (Unix nanoseconds, 0 when unknown) are when
	// the current hold began and when the held folder tries again by
	// itself, for Live (noteHoldWait).
	heldSince, nextTry atomic.Int64

	// ignored lists inbox entries left in place (reason by path), for
	// the log (once) and status.
	ignoredMu sync.Mutex
	ignored   map[string]string
}

func (a *Agent) newRunner(f *Folder) (*runner, error) {
	if f.MaxFiles <= 0 {
		f.MaxFiles = config.DefaultMaxFiles
	}
	if f.MaxBytes <= 0 {
		f.MaxBytes = int64(config.DefaultMaxBytes)
	}
	if f.MaxWait <= 0 {
		f.MaxWait = config.DefaultMaxWait
	}
	if f.GiveUpAfter <= 0 {
		f.GiveUpAfter = config.DefaultGiveUpAfter
	}
	if f.InFlight <= 0 {
		f.InFlight = DefaultInFlight
	}
	if f.OnCollision == "" {
		f.OnCollision = CollisionSuffix
	}
	for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, signagent.LocalError("cannot create folder "+d, "check the path and the service account's rights", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(f.Inbox, ledger.ClaimDir), 0o700); err != nil {
		return nil, err
	}
	wc := f.Watch
	wc.Root = f.Inbox
	log := a.Logger.With("folder", f.Name)
	if wc.Logger == nil {
		wc.Logger = log // the watcher adds its component and inbox
	}
	w, err := watcher.New(wc)
	if err != nil {
		return nil, err
	}
	return &runner{
		a: a, f: f, log: log, w: w,
		queue:      make(chan *item, f.MaxFiles),
		slots:      make(chan struct{}, f.InFlight),
		publishing: make(chan struct{}, f.InFlight),
	}, nil
}

// abs turns a path relative to the inbox into an absolute one.
func (r *runner) abs(rel string) string { return filepath.Join(r.f.Inbox, filepath.FromSlash(rel)) }

func (r *runner) out(d *ledger.Doc) string { return r.abs(d.Claim) + ".signed" }

// run is the folder loop: the watcher feeds claims, the batcher groups
// them, workers sign and publish. Intake stops with intake; workers run on
// work so they can finish after intake stops.
func (r *runner) run(intake, work context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()

	for _, b := range r.resume {
		r.slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			free := r.freeSlot()
			defer free()
			r.process(work, b, true, free)
		}()
	}
	r.resume = nil
	if pending := r.pending; len(pending) > 0 {
		r.pending = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, d := range pending {
				// A document that failed before the restart keeps its
				// place in the retry schedule.
				if wait := d.NextAttempt.Sub(r.a.Clock.Now()); wait > 0 && d.State == signagent.StateClaimed {
					r.requeueLater(work, []*ledger.Doc{d}, wait)
					continue
				}
				r.admit(intake, d)
			}
		}()
	}

	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.w.RunGroups(intake, r.claim); err != nil {
			r.log.Error("watcher stopped", "err", err)
		}
	}()

	b := &batcher{maxFiles: r.f.MaxFiles, maxBytes: r.f.MaxBytes, maxWait: r.f.MaxWait}
	timer := r.a.Clock.NewTimer(time.Hour)
	timer.Stop()
	flush := func(items []*item) {
		if len(items) == 0 {
			return
		}
		// Waiting for a slot blocks the batcher, so the queue fills and
		// claims wait: back-pressure instead of an unbounded backlog.
		select {
		case r.slots <- struct{}{}:
		case <-intake.Done():
			return // claimed documents stay claimed; reconcile requeues them
		}
		lb, err := r.createBatch(work, items)
		if err != nil {
			<-r.slots
			r.log.Error("cannot record batch; documents stay claimed until restart", "err", err)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			free := r.freeSlot()
			defer free()
			r.process(work, lb, false, free)
		}()
	}
	// A batch goes as soon as waiting cannot make it bigger: it is full,
	// or nothing else is queued or settling in the inbox. max_wait bounds
	// the wait only while more files are on their way, so one invoice
	// into an idle inbox is signed at once and a burst still fills batches.
	idle := func() bool { return len(r.queue) == 0 && r.w.Pending() == 0 }
	for {
		var deadline <-chan time.Time
		if d := b.deadline(); !d.IsZero() {
			wait := max(d.Sub(r.a.Clock.Now()), 0)
			switch {
			case idle():
				// The watcher's count may have dropped since the last item
				// came (it counts a file until its claim returns): nothing
				// else is on its way, so the batch goes now.
				wait = 0
			case r.w.Pending() > 0:
				wait = min(wait, idlePoll) // look again once the watcher's round ends
			}
			timer.Reset(wait)
			deadline = timer.Chan()
		}
		select {
		case it := <-r.queue:
			flush(b.add(it, r.a.Clock.Now()))
			if idle() {
				flush(b.take())
			}
		case <-deadline:
			if batch := b.due(r.a.Clock.Now()); batch != nil {
				flush(batch)
			} else if idle() {
				flush(b.take())
			}
		case <-intake.Done():
			timer.Stop()
			return nil
		}
		timer.Stop()
	}
}

// freeSlot returns a func that gives back one in-flight slot, once however
// often it is called.
func (r *runner) freeSlot() func() {
	var once sync.Once
	return func() { once.Do(func() { <-r.slots }) }
}

// enqueue hands a claimed document to the batcher, or waits with it.
func (r *runner) enqueue(ctx context.Context, d *ledger.Doc) {
	select {
	case r.queue <- &item{doc: d}:
	case <-ctx.Done():
	}
}

// requeueLater puts documents back to the batcher after a delay.
func (r *runner) requeueLater(ctx context.Context, docs []*ledger.Doc, delay time.Duration) {
	r.later.Go(func() {
		if !r.a.sleep(ctx, delay) {
			return
		}
		for _, d := range docs {
			r.enqueue(ctx, d)
		}
	})
}

// claimGroup is how many ready files are claimed with one pair of ledger
// transactions. Larger groups save little more and hold the first file of
// a backlog back while the rest are read.
const claimGroup = 32

// claim is the watcher's callback: record the ready files, rename them into
// the claim area, record their claims, and hand them on, a group at a time.
func (r *runner) claim(ctx context.Context, files []watcher.File) {
	for len(files) > 0 && ctx.Err() == nil {
		n := min(len(files), claimGroup)
		r.claimAll(ctx, files[:n])
		files = files[n:]
	}
}

// readyFile is a ready file read for its claim: its ledger record and the
// information of the handle it was read through.
type readyFile struct {
	f  watcher.File
	d  *ledger.Doc
	fi fs.FileInfo
}

func (r *runner) claimAll(ctx context.Context, files []watcher.File) {
	root, rootErr := os.Stat(r.f.Inbox)
	var cs []readyFile
	for _, f := range files {
		if ctx.Err() != nil {
			return
		}
		if c, ok := r.read(ctx, f, root, rootErr); ok {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return
	}
	docs := make([]*ledger.Doc, len(cs))
	for i, c := range cs {
		docs[i] = c.d
	}
	if err := r.a.Ledger.AddSeen(ctx, docs...); err != nil {
		r.log.Error("cannot record documents", "files", len(docs), "err", err)
		return
	}
	claimed, docs := cs[:0], docs[:0]
	var forget []int64
	for _, c := range cs {
		if err := atomicfile.Rename(c.f.Path, r.abs(c.d.Claim)); err != nil {
			// Vanished, or another agent won the rename: drop it quietly.
			forget = append(forget, c.d.ID)
			if !errors.Is(err, os.ErrNotExist) {
				r.log.Warn("cannot claim file", "file", c.f.Rel, "err", err)
			}
			continue
		}
		claimed, docs = append(claimed, c), append(docs, c.d)
	}
	dups, err := r.a.Ledger.Claim(context.WithoutCancel(ctx), r.f.Name, docs, forget)
	if err != nil {
		// The claim files are in place: reconcile counts them as claimed
		// after a restart, and admit asks for duplicates itself.
		r.log.Error("cannot record claims", "files", len(docs), "err", err)
		dups = nil
	}
	if len(claimed) > 0 {
		r.wake()
	}
	for i, c := range claimed {
		d := c.d
		d.State = signagent.StateClaimed
		r.a.Observer.Transition(r.f.Name, signagent.StateClaimed)
		r.log.Info("claimed", "doc", d.ID, "file", c.f.Rel, "size", c.f.Size)
		if c.f.Marker != "" {
			os.Remove(c.f.Marker)
		}
		if cfi, err := os.Lstat(r.abs(d.Claim)); err != nil || !os.SameFile(c.fi, cfi) {
			// Another entry was swapped in between the read and the rename:
			// what was claimed is not what was hashed. Look at it again.
			r.log.Warn("file replaced while it was claimed; checking it again", "doc", d.ID, "file", c.f.Rel)
			r.resettle(ctx, d, nil)
			continue
		}
		if dups == nil {
			r.admit(ctx, d)
			continue
		}
		r.admitAs(ctx, d, dups[i])
	}
}

// read takes a ready file's digest through a handle that cannot follow a
// link, and checks that it is a regular file on the inbox's own file
// system (root, not a mount of something else under a recursive inbox)
// that has not changed since the watcher looked. Entries that are not
// documents go to error/ or are ignored here; a file still changing is
// left for the watcher's next look.
func (r *runner) read(ctx context.Context, f watcher.File, root fs.FileInfo, rootErr error) (readyFile, bool) {
	if f.Mode != 0 {
		r.reject(ctx, f)
		return readyFile{}, false
	}
	if runtime.GOOS == "windows" {
		if p := winname.ProblemPath(f.Rel); p != "" {
			r.rejectName(ctx, f, p)
			return readyFile{}, false
		}
	}
	sum, n, fi, err := hashRegular(f.Path)
	if errors.Is(err, errNotRegular) {
		r.reject(ctx, f) // swapped for a link since the watcher looked
		return readyFile{}, false
	}
	if err != nil {
		r.log.Warn("cannot read ready file; will retry on the next scan", "file", f.Rel, "err", err)
		return readyFile{}, false
	}
	if rootErr == nil && !sameDevice(fi, root) {
		r.ignore(f, "it is on another file system than the inbox (a mount point inside the inbox?)")
		return readyFile{}, false
	}
	if n != f.Size || fi.Size() != f.Size || !fi.ModTime().Equal(f.ModTime) {
		return readyFile{}, false // changed since the watcher looked: not settled
	}
	if fi2, err := os.Lstat(f.Path); err != nil || !os.SameFile(fi, fi2) || fi2.Size() != f.Size || !fi2.ModTime().Equal(f.ModTime) {
		return readyFile{}, false // written to, or replaced, while we read it
	}
	d := &ledger.Doc{Folder: r.f.Name, Rel: f.Rel, Size: f.Size, ModTime: f.ModTime, SHA256: sum, SettledAt: r.a.Clock.Now()}
	return readyFile{f, d, fi}, true
}

// admit sends a claimed document to the batcher unless it must fail first.
func (r *runner) admit(ctx context.Context, d *ledger.Doc) {
	var dup *ledger.Doc
	if d.Size > 0 {
		var err error
		if dup, err = r.a.Ledger.Duplicate(ctx, r.f.Name, d.SHA256, d.ID); err != nil {
			r.log.Error("duplicate check failed", "doc", d.ID, "err", err)
		}
	}
	r.admitAs(ctx, d, dup)
}

// admitAs is admit once the ledger has said which document, if any, d
// duplicates.
func (r *runner) admitAs(ctx context.Context, d *ledger.Doc, dup *ledger.Doc) {
	if d.Size == 0 {
		r.fail(context.WithoutCancel(ctx), d, "", signagent.DocError(signagent.CodeEmptyFile,
			"the file is empty", "export the document again; the producer may have failed while writing it"))
		return
	}
	if dup != nil {
		where := dup.Rel
		if dup.Output != "" {
			where = dup.Output
		}
		r.fail(context.WithoutCancel(ctx), d, "", signagent.DocError(signagent.CodeDuplicate,
			fmt.Sprintf("the same content was already signed (document %d, %s)", dup.ID, where),
			"nothing to do: this content is already signed; the signed copy is in the outbox"))
		return
	}
	r.enqueue(ctx, d)
}

// rel2dir returns the sub-directory part of a relative path.
func rel2dir(rel string) string {
	d := path.Dir(rel)
	if d == "." {
		return ""
	}
	if runtime.GOOS == "windows" {
		d = winname.SafePath(d)
	}
	return filepath.FromSlash(d)
}
