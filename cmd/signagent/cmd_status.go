package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/monitor"
	"github.com/signagent/signagent/watcher"
)

// cmdStatus asks the running agent for its report; with no agent answering
// it prints the ledger's record, says the agent is not running, and fails
// (exit 1) so scripts and monitoring notice. Holds are then shown as last
// recorded, never as current: only a running agent knows whether a problem
// still holds.
func cmdStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON (times RFC 3339, durations in seconds)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	st, problem := askAgent(ctx, cfg)
	if st == nil {
		// No lock: SQLite's write-ahead log lets status read while an
		// agent writes. Never a new ledger either: only run starts one.
		db, err := openExistingLedger(cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		var names []string
		for _, f := range cfg.Folders {
			names = append(names, f.Name)
		}
		if st, err = db.Status(ctx, names); err != nil {
			return err
		}
		st.Agent = &signagent.AgentState{Running: false, LastActivity: lastActivity(cfg), Problem: problem}
		for i := range st.Folders {
			f := &st.Folders[i]
			f.LastHold, f.Held = f.Held, ""
		}
	}
	addInboxFS(st, cfg)
	if *asJSON {
		if err := monitor.EncodeStatus(e.stdout, st); err != nil {
			return err
		}
	} else {
		printStatus(e.stdout, st, time.Now())
	}
	if !st.Agent.Running {
		msg := "no agent is running on " + cfg.Path
		if problem != "" {
			msg = problem
		}
		return signagent.LocalError(msg,
			"start it (`signagent start`, or `signagent run` in the foreground); the report above is the ledger's record", nil)
	}
	return nil
}

// askAgent returns the running agent's live report, or nil and, when an
// agent holds the data directory without answering, what went wrong.
func askAgent(ctx context.Context, cfg *config.Config) (*signagent.Status, string) {
	mi, err := readMonitorFile(cfg)
	var askErr error
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		st, err := liveStatus(ctx, mi)
		if err == nil {
			if st.Agent == nil { // an agent of an earlier version
				st.Agent = &signagent.AgentState{Running: true, PID: mi.PID, Version: mi.Version, Started: mi.Started,
					Uptime: time.Since(mi.Started)}
			}
			return st, ""
		}
		askErr = err
	}
	// Nobody answered: is an agent there at all? Only look at a data
	// directory that exists (status creates nothing).
	if _, err := os.Stat(cfg.DataDir); err != nil {
		return nil, ""
	}
	lock, err := datadir.Acquire(ctx, cfg.DataDir, "status", 0)
	var held *datadir.LockedError
	switch {
	case errors.As(err, &held) && held.Command == datadir.CommandRun:
		p := fmt.Sprintf("an agent (pid %d) holds %s but does not answer", held.PID, cfg.DataDir)
		if askErr != nil {
			p += ": " + askErr.Error()
		}
		return nil, p
	case err == nil:
		lock.Release()
	}
	return nil, ""
}

// lastActivity is when the ledger was last written (the later of the
// database and its write-ahead log): by a running agent, the last step of
// a document or a hold; by a stopped one, its stop.
func lastActivity(cfg *config.Config) time.Time {
	var last time.Time
	for _, p := range []string{ledgerPath(cfg), ledgerPath(cfg) + "-wal"} {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	return last
}

// addInboxFS fills in each folder's file system and scan interval, as the
// agent's watcher would choose them.
func addInboxFS(st *signagent.Status, cfg *config.Config) {
	for i := range st.Folders {
		f := &st.Folders[i]
		for _, cf := range cfg.Folders {
			if cf.Name != f.Name || f.FileSystem != "" {
				continue
			}
			fs, err := watcher.DetectFS(cf.Inbox)
			if err != nil {
				continue
			}
			f.FileSystem, f.Network, f.ScanInterval = fs.Type, fs.Remote, cf.ScanInterval.Duration
			if f.ScanInterval == 0 {
				f.ScanInterval = fs.DefaultScanInterval()
			}
		}
	}
}

var stateOrder = []signagent.State{signagent.StateSeen, signagent.StateClaimed, signagent.StateBatched,
	signagent.StateSubmitted, signagent.StateSigned, signagent.StatePublished, signagent.StateFailed}

// agentLine is the report's first line: which agent made it.
func agentLine(a *signagent.AgentState, now time.Time) string {
	switch {
	case a == nil:
		return "agent: unknown"
	case a.Running:
		return fmt.Sprintf("agent: running, pid %d, version %s, up %s (live report)", a.PID, a.Version, a.Uptime.Round(time.Second))
	}
	s := "agent: not running"
	if a.Problem != "" {
		s = "agent: not answering (" + a.Problem + ")"
	}
	if !a.LastActivity.IsZero() {
		s += fmt.Sprintf(" (last activity %s, %s ago)", a.LastActivity.Local().Format(time.RFC3339), now.Sub(a.LastActivity).Round(time.Second))
	}
	return s + ": the queue below is the ledger's record; holds are as last recorded, not current"
}

// folderState is a folder's one-word state for the table.
func folderState(running bool, f *signagent.FolderStatus) string {
	switch {
	case !running:
		return "stopped"
	case f.Held != "":
		return "held"
	case f.WatchError != "":
		return "scanning" // the watcher is down; scans go on
	}
	return "flowing"
}

func printStatus(w io.Writer, st *signagent.Status, now time.Time) {
	running := st.Agent != nil && st.Agent.Running
	fmt.Fprintln(w, agentLine(st.Agent, now))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "FOLDER\tSTATE\tINBOX")
	for _, s := range stateOrder {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(s)))
	}
	fmt.Fprintln(tw, "\tOLDEST WAITING")
	for i := range st.Folders {
		f := &st.Folders[i]
		inbox := "-"
		if f.Inbox != nil {
			inbox = inboxCount(f.Inbox)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", f.Name, folderState(running, f), inbox)
		for _, s := range stateOrder {
			fmt.Fprintf(tw, "\t%d", f.Counts[s])
		}
		oldest := "-"
		if f.Oldest != nil {
			oldest = fmt.Sprintf("%s (%s, %s)", f.Oldest.File, f.Oldest.State, f.Oldest.Age.Round(time.Second))
		}
		fmt.Fprintf(tw, "\t%s\n", oldest)
	}
	tw.Flush()
	for i := range st.Folders {
		f := &st.Folders[i]
		if f.Held != "" {
			since := ""
			if !f.HeldSince.IsZero() {
				since = fmt.Sprintf(" since %s (%s ago)", f.HeldSince.Local().Format(time.RFC3339), now.Sub(f.HeldSince).Round(time.Second))
			}
			fmt.Fprintf(w, "%s: held%s: %s\n", f.Name, since, f.Held)
			next := "when the inbox changes or an operator asks"
			if !f.NextRecheck.IsZero() {
				next = fmt.Sprintf("at %s (in %s), sooner when the inbox changes", f.NextRecheck.Local().Format(time.RFC3339),
					max(f.NextRecheck.Sub(now), 0).Round(time.Second))
			}
			fmt.Fprintf(w, "  documents wait, none is lost; next recheck %s; `signagent recheck` tries now\n", next)
		}
		if f.LastHold != "" {
			fmt.Fprintf(w, "%s: last recorded hold (not current: known again once an agent runs): %s\n", f.Name, f.LastHold)
		}
		if f.WatchError != "" {
			fmt.Fprintf(w, "%s: watcher down, periodic scans continue: %s\n", f.Name, f.WatchError)
		}
		for _, ub := range f.OutcomeUnknown {
			fmt.Fprintf(w, "%s: outcome unknown: batch %d (%s, %d documents) since %s (%s ago): the service may or may not have taken it; look-ups go on\n",
				f.Name, ub.ID, ub.Ref, ub.Docs, ub.Since.Local().Format(time.RFC3339), now.Sub(ub.Since).Round(time.Second))
			if ub.Decision != "" {
				fmt.Fprintf(w, "  decided: %s; the agent carries it out\n", ub.Decision)
				continue
			}
			fmt.Fprintf(w, "  waits for your decision: `signagent resolve %d --resend` (the service did not take it) or `--fail` (its documents go to error/)\n", ub.ID)
		}
		if f.Inbox != nil && f.Inbox.Files > 0 && f.Inbox.Oldest != "" {
			fmt.Fprintf(w, "%s: waiting in the inbox: %s file(s), oldest %s (written %s ago)\n", f.Name,
				inboxCount(f.Inbox),
				f.Inbox.Oldest, now.Sub(f.Inbox.OldestSince).Round(time.Second))
		}
		for _, op := range f.InFlight {
			fmt.Fprintf(w, "%s: in flight: batch %s at %s (operation %s, %d documents, since %s)\n",
				f.Name, op.Batch, op.Backend, op.ID, op.Docs, op.Submitted.Format(time.RFC3339))
		}
		if f.Network {
			fmt.Fprintf(w, "%s: inbox on a %s\n", f.Name, watcher.FS{Type: f.FileSystem, Remote: true}.Unreliable(f.ScanInterval))
		}
		for _, rt := range f.Retrying {
			fmt.Fprintf(w, "%s: retrying after transient failures: %s (%d attempts), next attempt at %s\n",
				f.Name, rt.File, rt.Attempts, rt.NextAttempt.Local().Format(time.RFC3339))
		}
		if f.Unreported > 0 {
			fmt.Fprintf(w, "%s: events are not arriving for this folder; relying on scans (%d files found only by scanning)\n", f.Name, f.Unreported)
		}
		for _, ig := range f.Ignored {
			fmt.Fprintf(w, "%s: ignored entry (never read): %s\n", f.Name, ig)
		}
		if len(f.Failures) > 0 {
			fmt.Fprintf(w, "\n%s: last failures\n", f.Name)
			for _, fl := range f.Failures {
				fmt.Fprintf(w, "  %s  %-16s %s: %s\n", fl.FailedAt.Format(time.RFC3339), fl.Code, fl.File, fl.Message)
			}
		}
	}
	fmt.Fprintf(w, "ledger: %d bytes\n", st.LedgerBytes)
}

// inboxCount is the number of files waiting in an inbox, "+" when it is a
// lower bound.
func inboxCount(in *signagent.InboxWaiting) string {
	if in.AtLeast {
		return fmt.Sprintf("%d+", in.Files)
	}
	return fmt.Sprint(in.Files)
}
