package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/installer"
	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/internal/gctune"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/monitor"
)

// stopBudget is how long the service manager waits for a graceful stop.
const stopBudget = 10 * time.Second

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	newLedger := fs.Bool("new-ledger", false, "start a new ledger although the data directory was used before (recorded in the ledger)")
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
	if len(cfg.Folders) == 0 {
		return usageError{msg: *cfgPath + ": no [[folders]] configured; nothing to watch\nhint: start from config.example.toml"}
	}
	warnings, err := checkLayout(cfg)
	if err != nil {
		return err
	}
	// One agent per data directory, for as long as this process lives.
	lock, err := lockDataDir(ctx, cfg, datadir.CommandRun)
	if err != nil {
		return err
	}
	defer lock.Release()
	start, err := checkLedger(cfg, *cfgPath, *newLedger)
	if err != nil {
		return err
	}
	var log *slog.Logger
	if !installer.Interactive() {
		log = newServiceLogger(cfg, e)
	} else {
		log = newLogger(cfg, e.stderr)
	}
	for _, w := range warnings {
		log.Warn(w.Message, "key", w.Key, "line", w.Line, "hint", w.Hint)
	}
	if gc := gctune.Apply(e.getenv); gc != (gctune.Settings{}) {
		log.Debug("garbage collector tuned for a long run (GOGC and GOMEMLIMIT override)", "gc_percent", gc.Percent, "memory_limit", gc.Limit)
	}
	run := func(ctx context.Context, cfg *config.Config) error {
		for {
			err := runAgent(ctx, cfg, e, log, start)
			start = ledgerStart{} // recorded once; a reload opens the same ledger
			if !errors.Is(err, errFolderUsable) || ctx.Err() != nil {
				return err
			}
		}
	}
	if !installer.Interactive() {
		return installer.RunService(serviceName, func(ctx context.Context) error {
			return runReloadable(ctx, cfg, *cfgPath, run, log)
		}, requestReload, stopBudget, log)
	}
	return runReloadable(ctx, cfg, *cfgPath, run, log)
}

// checkLayout creates missing folders, then refuses to start on any layout
// problem config.Check finds (folders on different volumes, unreadable
// secrets): claims and publication are atomic renames only within one
// volume. A folder whose paths cannot be created or written now is not
// refused: the agent holds it (holdUnusable), so one missing share does not
// stop the others. It returns the warnings for the log.
func checkLayout(cfg *config.Config) (warnings config.Problems, err error) {
	unusable := unusableFolders(cfg)
	var ps config.Problems
	for _, p := range cfg.Check() {
		if p.Warning {
			warnings = append(warnings, p)
			continue
		}
		covered := false
		for i, f := range cfg.Folders {
			if unusable[f.Name] != nil && folderPathKey(p.Key, i) {
				covered = true
			}
		}
		if !covered {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return warnings, &ps
	}
	return warnings, nil
}

// runAgent runs the agent and its monitor until ctx is done.
func runAgent(ctx context.Context, cfg *config.Config, e *env, log *slog.Logger, start ledgerStart) error {
	started := time.Now()
	db, err := openLedger(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if start.kind != "" {
		if err := db.RecordEvent(ctx, start.kind, start.detail); err != nil {
			return err
		}
		if start.kind == ledger.EventNewLedger {
			log.Warn("started a new ledger", "ledger", db.Path(), "detail", start.detail)
		} else {
			log.Info("created the ledger", "ledger", db.Path())
		}
	}
	backends, err := newBackends(cfg, e, log)
	if err != nil {
		return err
	}
	// A folder that cannot be used now is held; the others run.
	runCfg, held, err := holdUnusable(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	a := newAgent(runCfg, db, backends, log)
	metrics := monitor.NewMetrics()
	a.Observer = metrics
	notify := e.getenv("NOTIFY_SOCKET")
	a.Ready = func() {
		if err := installer.NotifyReady(notify); err != nil {
			log.Warn("cannot notify the service manager", "err", err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// Local commands (status, recheck) reach the agent through the
	// monitor listener, or, with listen = "off", a socket in the data
	// directory that only its accounts can open.
	srv := newMonitor(cfg, a, held, backends, metrics, started, log)
	var ln net.Listener
	url := ""
	if cfg.Listen != "" && cfg.Listen != "off" {
		if ln, err = srv.Listen(); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
		url = "http://" + ln.Addr().String()
	} else if ln, err = listenLocal(cfg.DataDir); err != nil {
		log.Warn("no local socket: signagent status and recheck cannot reach this agent", "err", err)
	} else {
		url = "unix:" + ln.Addr().String()
	}
	if ln != nil {
		remove, err := writeMonitorFile(cfg.DataDir, url, srv.Page.Token(), started)
		if err != nil {
			ln.Close()
			return fmt.Errorf("record the monitor for local commands: %w", err)
		}
		defer remove()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, ln); err != nil {
				log.Error("monitor stopped", "err", err)
			}
		}()
	}
	startOperations(ctx, &wg, cfg, a, held, backends, metrics, log)
	var usable error
	if held.any() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if usable = held.watch(ctx); usable != nil {
				cancel()
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		maintain(ctx, cfg, a, log)
	}()
	go func() {
		defer wg.Done()
		b := &ledger.Backuper{DB: db, Dir: ledger.BackupDir(db.Path()), Interval: cfg.BackupInterval.Duration,
			Keep: cfg.BackupKeep, Logger: log}
		b.Run(ctx)
	}()
	err = a.Run(ctx)
	cancel()
	wg.Wait()
	if err == nil && usable != nil {
		return usable // started again by the caller, without telling the service manager we stop
	}
	installer.NotifyStopping(notify)
	return err
}

// maintain prunes old ledger rows and archived originals once an hour.
func maintain(ctx context.Context, cfg *config.Config, a *agent.Agent, log *slog.Logger) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r := cfg.LedgerRetention.Duration; r > 0 {
			if n, err := a.Ledger.Prune(ctx, time.Now().Add(-r)); err != nil {
				log.Error("ledger retention", "err", err)
			} else if n > 0 {
				log.Info("ledger retention: pruned finished documents", "rows", n)
			}
		}
		for _, f := range cfg.Folders {
			if f.Archive != "" && f.ArchiveRetention.Duration > 0 {
				if n, err := agent.PruneArchive(f.Archive, time.Now().Add(-f.ArchiveRetention.Duration)); err != nil {
					log.Error("archive retention", "folder", f.Name, "err", err)
				} else if n > 0 {
					log.Info("archive retention: deleted old originals", "folder", f.Name, "files", n)
				}
			}
		}
		t.Reset(time.Hour)
	}
}
