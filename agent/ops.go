package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/signagent/signagent/watcher"
)

// Operator actions and what only the running agent knows, for the status
// page: files still waiting in the inbox, the held folders' timing, the
// failed documents in error/.

// Errors of the operator actions.
var (
	// ErrUnknownFolder: no configured folder has that name.
	ErrUnknownFolder = errors.New("no such folder")
	// ErrNotHeld: the folder is not held, there is nothing to recheck.
	ErrNotHeld = errors.New("the folder is not held")
	// ErrNotRunning: the agent is not running (yet, or any more).
	ErrNotRunning = errors.New("the agent is not running")
)

// MaxInboxScan bounds the entries Live looks at in one inbox, so a huge
// backlog costs a status page a bounded walk; beyond it the count is a
// lower bound (FolderLive.InboxTruncated).
const MaxInboxScan = 100_000

// MaxFailedListed bounds the failed documents Live returns per folder.
const MaxFailedListed = 50

// FolderLive is a folder's state as the running agent sees it.
type FolderLive struct {
	Name string
	// Held is true while the folder waits on a configuration or local
	// problem (its reason is in the queue report).
	Held bool
	// HeldSince is when the current hold began, zero when unknown (a hold
	// found in the ledger at start and not yet retried).
	HeldSince time.Time
	// NextRecheck is when the held folder tries again by itself, zero when
	// it is not held or no retry is scheduled.
	NextRecheck time.Time
	// Inbox counts the files waiting in the inbox, not yet claimed (those
	// the watcher would take: ignored names and excluded patterns are not
	// counted). InboxOldest is the modification time of the oldest.
	Inbox          int
	InboxOldest    time.Time
	InboxOldestRel string
	InboxTruncated bool
	// Failed lists the failed documents in the error folder, newest first,
	// at most MaxFailedListed; FailedTotal counts them all.
	Failed      []FailedDoc
	FailedTotal int
}

// FailedDoc is a failed original in the error folder, read from its error
// file.
type FailedDoc struct {
	// Rel is the original's path under the error folder, slash-separated:
	// what Retry takes.
	Rel string
	// ErrorFile is the error file's path under the error folder.
	ErrorFile string
	// Error is the error file's content.
	Error ErrorFile
}

// Live reports every folder's live state, in configuration order. It reads
// the inboxes and error folders; it never writes.
func (a *Agent) Live(ctx context.Context) ([]FolderLive, error) {
	var out []FolderLive
	for _, f := range a.Folders {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fl := FolderLive{Name: f.Name}
		if r := a.runner(f.Name); r != nil && r.heldBy.Load() != 0 {
			fl.Held = true
			if ns := r.heldSince.Load(); ns != 0 {
				fl.HeldSince = time.Unix(0, ns)
			}
			if ns := r.nextTry.Load(); ns != 0 {
				fl.NextRecheck = time.Unix(0, ns)
			}
		}
		inboxScan(ctx, f, &fl)
		failedScan(f, &fl, MaxFailedListed)
		out = append(out, fl)
	}
	return out, nil
}

// inboxScan counts the files in f's inbox that wait to be claimed.
func inboxScan(ctx context.Context, f *Folder, fl *FolderLive) {
	seen := 0
	filepath.WalkDir(f.Inbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == f.Inbox {
			return nil
		}
		if seen++; seen > MaxInboxScan || ctx.Err() != nil {
			fl.InboxTruncated = true
			return filepath.SkipAll
		}
		name := d.Name()
		if d.IsDir() {
			if !f.Watch.Recursive || watcher.Ignored(name) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(f.Inbox, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if watcher.Ignored(name) || !watcher.Match(rel, f.Watch.Include, f.Watch.Exclude) {
			return nil
		}
		if f.Watch.DoneMarker && strings.HasSuffix(strings.ToLower(name), ".done") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		fl.Inbox++
		if fl.InboxOldest.IsZero() || fi.ModTime().Before(fl.InboxOldest) {
			fl.InboxOldest, fl.InboxOldestRel = fi.ModTime(), rel
		}
		return nil
	})
}

// failedScan lists the failed originals in f's error folder from their
// error files, newest first, at most limit of them (all when limit < 0).
func failedScan(f *Folder, fl *FolderLive, limit int) {
	var all []FailedDoc
	filepath.WalkDir(f.Error, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), errorSuffix) {
			return nil
		}
		orig := strings.TrimSuffix(p, errorSuffix)
		if !exists(orig) {
			return nil // retried, or removed by an operator
		}
		rel, err := filepath.Rel(f.Error, orig)
		if err != nil {
			return nil
		}
		fd := FailedDoc{Rel: filepath.ToSlash(rel), ErrorFile: filepath.ToSlash(rel) + errorSuffix}
		if b, err := os.ReadFile(p); err == nil {
			json.Unmarshal(b, &fd.Error)
		}
		if fd.Error.FailedAt.IsZero() {
			if fi, err := d.Info(); err == nil {
				fd.Error.FailedAt = fi.ModTime()
			}
		}
		all = append(all, fd)
		return nil
	})
	sort.SliceStable(all, func(i, j int) bool { return all[i].Error.FailedAt.After(all[j].Error.FailedAt) })
	fl.FailedTotal = len(all)
	if limit >= 0 && len(all) > limit {
		all = all[:limit]
	}
	fl.Failed = all
}

// Recheck makes a held folder try again now instead of at the end of its
// wait. It returns ErrUnknownFolder, ErrNotRunning, or ErrNotHeld when the
// folder flows (nothing to do).
func (a *Agent) Recheck(folder string) error {
	if !a.hasFolder(folder) {
		return ErrUnknownFolder
	}
	r := a.runner(folder)
	if r == nil {
		return ErrNotRunning
	}
	if r.heldBy.Load() == 0 {
		return ErrNotHeld
	}
	r.wakeMu.Lock()
	defer r.wakeMu.Unlock()
	r.lastWake = a.Clock.Now()
	if r.wakeCh != nil {
		close(r.wakeCh)
	}
	r.wakeCh = make(chan struct{})
	r.log.Info("recheck requested by an operator")
	return nil
}

// Retry moves failed documents of folder from its error folder back into
// its inbox for a new attempt, as `signagent retry` does. rels are paths
// under the error folder (FailedDoc.Rel); none means every failed
// document. It returns the documents requeued; a document that cannot be
// requeued is reported in the error and the others are still tried.
func (a *Agent) Retry(ctx context.Context, folder string, rels ...string) (int, error) {
	var f *Folder
	for _, x := range a.Folders {
		if x.Name == folder {
			f = x
		}
	}
	if f == nil {
		return 0, ErrUnknownFolder
	}
	if len(rels) == 0 {
		var fl FolderLive
		failedScan(f, &fl, -1)
		for _, fd := range fl.Failed {
			rels = append(rels, fd.Rel)
		}
	}
	n := 0
	var errs []error
	for _, rel := range rels {
		p := filepath.Join(f.Error, filepath.FromSlash(rel))
		if !within(f.Error, p) || strings.HasSuffix(rel, errorSuffix) {
			errs = append(errs, fmt.Errorf("%s: not a failed document of folder %s", rel, folder))
			continue
		}
		dst, err := Requeue(ctx, a.Ledger, f.Name, f.Error, f.Inbox, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rel, err))
			continue
		}
		n++
		a.Logger.Info("requeued by an operator", "folder", f.Name, "file", rel, "inbox", dst)
	}
	return n, errors.Join(errs...)
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func (a *Agent) hasFolder(name string) bool {
	for _, f := range a.Folders {
		if f.Name == name {
			return true
		}
	}
	return false
}

// runner returns the folder's runner while Run runs, nil otherwise.
func (a *Agent) runner(name string) *runner {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runners[name]
}

// noteHoldWait records, for Live, when a held folder tries again, and when
// its hold began (the first wait since the last release).
func (r *runner) noteHoldWait(d time.Duration) {
	now := r.a.Clock.Now()
	r.nextTry.Store(now.Add(d).UnixNano())
	if r.holdTries.Load() <= 1 || r.heldSince.Load() == 0 {
		r.heldSince.Store(now.UnixNano())
	}
}
