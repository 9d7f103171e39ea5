package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/signagent/signagent/config"
)

// runReloadable runs the agent on cfg until ctx ends. A reload request
// (SIGHUP, `signagent reload`, systemd's ExecReload) reads the
// configuration file again and validates it first: if it has problems,
// each is logged and the agent keeps running on the old one; if it is
// valid, the running agent drains (running batches finish, claimed
// documents stay claimed in the ledger) and starts again on the new one,
// in the same process, holding the same data directory.
func runReloadable(ctx context.Context, cfg *config.Config, path string, run func(context.Context, *config.Config) error, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		actx, stop := context.WithCancel(ctx)
		next := make(chan *config.Config, 1)
		done := make(chan error, 1)
		go func() { done <- run(actx, cfg) }()
	wait:
		for {
			select {
			case err := <-done:
				stop()
				select {
				case n := <-next:
					cfg = n
					log.Info("configuration reloaded: the agent runs on the new configuration", "config", path, "folders", len(cfg.Folders))
					break wait
				default:
					return err
				}
			case <-hup:
			case <-reloadRequests:
			}
			// A reload request (the done case always leaves the loop).
			n, err := loadForReload(path, cfg)
			if err != nil {
				log.Error("reload refused: the configuration has problems; still running on the previous one", "config", path, "err", err)
				continue
			}
			log.Info("reloading: draining the running agent", "config", path)
			select {
			case <-next: // a newer request replaces one not yet applied
			default:
			}
			next <- n
			stop()
		}
	}
}

// reloadRequests carries reload requests that do not come as SIGHUP: the
// Windows service manager's parameter change (requestReload).
var reloadRequests = make(chan struct{}, 1)

// requestReload asks runReloadable to read the configuration again; a
// request already pending stands for both.
func requestReload() {
	select {
	case reloadRequests <- struct{}{}:
	default:
	}
}

// loadForReload reads and checks the configuration at path for a reload of
// an agent running on old. The data directory cannot change in a running
// process: it holds the lock and the ledger.
func loadForReload(path string, old *config.Config) (*config.Config, error) {
	n, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if len(n.Folders) == 0 {
		return nil, errors.New("no [[folders]] configured; nothing to watch")
	}
	if n.DataDir != old.DataDir {
		return nil, fmt.Errorf("data_dir changed from %s to %s: restart the service to move the data directory", old.DataDir, n.DataDir)
	}
	if _, err := checkLayout(n); err != nil {
		return nil, err
	}
	return n, nil
}
