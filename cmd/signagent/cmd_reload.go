package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
)

// cmdReload asks the agent running on a configuration to read it again
// (runReloadable): it validates the file first and keeps running on the old
// one if the new one has problems, which it logs.
func cmdReload(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	cfgPath := configFlag(fs)
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
	// Problems found here are said here; the agent would refuse them too.
	if _, err := loadForReload(*cfgPath, cfg); err != nil {
		return err
	}
	lock, err := datadir.Acquire(ctx, cfg.DataDir, "reload", 0)
	var held *datadir.LockedError
	switch {
	case errors.As(err, &held) && held.PID > 0 && held.Command == datadir.CommandRun:
		if err := signalReload(held.PID); err != nil {
			return signagent.LocalError(fmt.Sprintf("cannot ask the agent (pid %d) to reload", held.PID),
				"run as the service's account or root (on Windows: as an administrator, with the agent running as the service)", err)
		}
		fmt.Fprintf(e.stdout, "asked the agent (pid %d) to reload %s; its log says whether it took the new configuration\n", held.PID, cfg.Path)
		return nil
	case err != nil:
		return err
	}
	lock.Release()
	return signagent.LocalError("no agent is running on "+cfg.DataDir+": nothing to reload",
		"start it (`signagent start` or `signagent run`); it reads the configuration when it starts", nil)
}
