package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/monitor"
)

// A folder whose inbox, outbox, error or archive folder cannot be created
// or written when the agent starts (a share not mounted, rights missing)
// is held instead of stopping the agent: the other folders run, and the
// held one is tried again from unusableRetryMin, doubling up to
// unusableRetryMax, or at once on `signagent recheck`. Once it can be used
// the agent drains and starts again with it, as on a reload.
const (
	unusableRetryMin = 5 * time.Second
	unusableRetryMax = 2 * time.Minute
	// unusablePrefix marks the holds recorded for such a folder, so a later
	// start that finds the folder usable clears them.
	unusablePrefix = "its folders cannot be used: "
)

// errFolderUsable ends an agent run so that it starts again with a folder
// that has become usable.
var errFolderUsable = errors.New("a held folder can be used again")

// folderProblem tries what the agent does first with f's folders: create
// them, and create (then remove) a file in each. It returns the first
// failure.
func folderProblem(f *config.Folder) error {
	for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("cannot create %s: %w", d, err)
		}
		tmp, err := os.CreateTemp(d, ".signagent-check-*")
		if err != nil {
			return fmt.Errorf("cannot create files in %s: %w", d, err)
		}
		tmp.Close()
		os.Remove(tmp.Name())
	}
	return nil
}

// unusableFolders returns the reason of each of cfg's folders that cannot
// be used now, by name.
func unusableFolders(cfg *config.Config) map[string]error {
	out := map[string]error{}
	for _, f := range cfg.Folders {
		if err := folderProblem(f); err != nil {
			out[f.Name] = err
		}
	}
	return out
}

// folderPathKey reports whether a problem's key is one of folder i's
// paths, which a hold covers.
func folderPathKey(key string, i int) bool {
	for _, r := range []string{"inbox", "outbox", "error", "archive"} {
		if key == fmt.Sprintf("folders[%d].%s", i, r) {
			return true
		}
	}
	return false
}

// heldFolders are the folders of one agent run that could not be used at
// its start. Its methods are safe for concurrent use.
type heldFolders struct {
	cfg    *config.Config
	db     *ledger.DB
	log    *slog.Logger
	since  time.Time
	wake   chan struct{}
	mu     sync.Mutex
	reason map[string]string // by folder name
	next   time.Time
}

// holdUnusable records a hold for each unusable folder of cfg, clears the
// holds an earlier start recorded for folders usable now, and returns the
// configuration of the folders that run.
//
// A stop requested meanwhile does not interrupt these few ledger writes:
// it is not an error, and the agent then stops at once.
func holdUnusable(ctx context.Context, cfg *config.Config, db *ledger.DB, log *slog.Logger) (*config.Config, *heldFolders, error) {
	ctx = context.WithoutCancel(ctx)
	unusable := unusableFolders(cfg)
	h := &heldFolders{cfg: cfg, db: db, log: log, since: time.Now(), wake: make(chan struct{}, 1), reason: map[string]string{}}
	var names []string
	for _, f := range cfg.Folders {
		names = append(names, f.Name)
	}
	st, err := db.Status(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	run := *cfg
	run.Folders = nil
	for i, f := range cfg.Folders {
		err := unusable[f.Name]
		if err == nil {
			if strings.HasPrefix(st.Folders[i].Held, unusablePrefix) {
				if err := db.Release(ctx, f.Name); err != nil {
					return nil, nil, err
				}
				log.Info("folder released: its folders can be used", "folder", f.Name)
			}
			run.Folders = append(run.Folders, f)
			continue
		}
		reason := unusablePrefix + err.Error()
		h.reason[f.Name] = reason
		if err := db.Hold(ctx, f.Name, reason+" (hint: check that the share is mounted and the service account can write there; `signagent check --as ACCOUNT` shows what it lacks)"); err != nil {
			return nil, nil, err
		}
		log.Error("folder held: documents wait until its folders can be used; the other folders run", "folder", f.Name, "err", err)
	}
	return &run, h, nil
}

func (h *heldFolders) held(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.reason[name]
	return ok
}

func (h *heldFolders) any() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reason) > 0
}

// watch tries the held folders again until one can be used, then returns
// errFolderUsable; or nil when ctx ends.
func (h *heldFolders) watch(ctx context.Context) error {
	wait := unusableRetryMin
	for {
		h.mu.Lock()
		h.next = time.Now().Add(wait)
		h.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-h.wake:
			t.Stop()
		}
		for _, f := range h.cfg.Folders {
			if h.held(f.Name) && folderProblem(f) == nil {
				h.log.Info("held folder can be used again: starting the agent again with it", "folder", f.Name)
				return errFolderUsable
			}
		}
		wait = min(wait*2, unusableRetryMax)
	}
}

// status adds the held folders to the running agent's report, in
// configuration order.
func (h *heldFolders) status(a *agent.Agent) monitor.StatusFunc {
	return func(ctx context.Context) (*signagent.Status, error) {
		st, err := a.Status(ctx)
		if err != nil || !h.any() {
			return st, err
		}
		var names []string
		for _, f := range h.cfg.Folders {
			if h.held(f.Name) {
				names = append(names, f.Name)
			}
		}
		extra, err := h.db.Status(ctx, names)
		if err != nil {
			return nil, err
		}
		byName := map[string]signagent.FolderStatus{}
		for _, f := range append(st.Folders, extra.Folders...) {
			byName[f.Name] = f
		}
		st.Folders = st.Folders[:0]
		for _, f := range h.cfg.Folders {
			if fs, ok := byName[f.Name]; ok {
				st.Folders = append(st.Folders, fs)
			}
		}
		return st, nil
	}
}

// live adds the held folders' timing to the running agent's live state.
func (h *heldFolders) live(a *agent.Agent) func(context.Context) ([]agent.FolderLive, error) {
	return func(ctx context.Context) ([]agent.FolderLive, error) {
		ls, err := a.Live(ctx)
		if err != nil || !h.any() {
			return ls, err
		}
		h.mu.Lock()
		next := h.next
		h.mu.Unlock()
		byName := map[string]agent.FolderLive{}
		for _, l := range ls {
			byName[l.Name] = l
		}
		var out []agent.FolderLive
		for _, f := range h.cfg.Folders {
			if l, ok := byName[f.Name]; ok {
				out = append(out, l)
			} else if h.held(f.Name) {
				out = append(out, agent.FolderLive{Name: f.Name, Held: true, HeldSince: h.since, NextRecheck: next})
			}
		}
		return out, nil
	}
}

// actions routes the operator actions: a recheck of a held folder tries
// its folders now; anything else goes to the agent.
type heldActions struct {
	a *agent.Agent
	h *heldFolders
}

func (x heldActions) Recheck(folder string) error {
	if !x.h.held(folder) {
		return x.a.Recheck(folder)
	}
	select {
	case x.h.wake <- struct{}{}:
	default:
	}
	return nil
}

func (x heldActions) Retry(ctx context.Context, folder string, rels ...string) (int, error) {
	if x.h.held(folder) {
		return 0, fmt.Errorf("folder %q is held: its folders cannot be used yet", folder)
	}
	return x.a.Retry(ctx, folder, rels...)
}
