package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/installer"
)

const serviceName = installer.DefaultName

// serviceOptions builds installer options from --config and the file.
func serviceOptions(name string, e *env, args []string) (installer.Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := configFlag(fs)
	user := fs.String("user", "", "run the service as this `account` (install), which must exist; on Windows DOMAIN\\name, DOMAIN\\name$ for a gMSA, or .\\name")
	pwFile := fs.String("password-file", "", "`file` holding the password of --user (install, Windows: a domain or local account; a gMSA takes none)")
	dry := fs.Bool("dry-run", false, "print what would be done, change nothing")
	purge := fs.Bool("purge", false, "also delete the ledger, keys and logs (uninstall)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return installer.Options{}, err
	}
	if err := noArgs(fs); err != nil {
		return installer.Options{}, err
	}
	if *pwFile != "" && (*user == "" || runtime.GOOS != "windows") {
		return installer.Options{}, usageError{msg: "--password-file goes with --user, on Windows: other service managers run a local account without a password"}
	}
	opts := installer.Options{User: *user, PasswordFile: *pwFile, DryRun: *dry, Purge: *purge, Stdout: e.stdout, Stderr: e.stderr}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return opts, err
	}
	if opts.Config, err = filepath.Abs(*cfgPath); err != nil {
		return opts, err
	}
	opts.DataDir = cfg.DataDir
	for _, f := range cfg.Folders {
		for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
			if d != "" {
				opts.Folders = append(opts.Folders, d)
			}
		}
	}
	return opts, nil
}

func cmdInstall(ctx context.Context, e *env, args []string) error {
	opts, err := serviceOptions("install", e, args)
	if err != nil {
		return err
	}
	if opts.User != "" {
		// A service for an account that does not exist would never start.
		if err := serviceAccountExists(opts.User); err != nil {
			return err
		}
		if runtime.GOOS != "windows" {
			warnAccess(e, opts)
		}
	}
	return installer.Install(opts)
}

// warnAccess says which folders and secret files the service account
// cannot use: install goes on (the agent holds such a folder until it can
// use it), but the administrator learns it now. Install hands the data
// directory to the account itself.
func warnAccess(e *env, opts installer.Options) {
	cfg, err := config.Load(opts.Config)
	if err != nil {
		return
	}
	var b bytes.Buffer
	if n, err := checkAccessAs(&b, cfg, opts.User, false); err == nil && n > 0 {
		fmt.Fprintf(e.stderr, "warning: the account %s cannot use %d path(s) the service needs:\n%s", opts.User, n, b.String())
	}
}

func cmdUninstall(ctx context.Context, e *env, args []string) error {
	opts, err := serviceOptions("uninstall", e, args)
	if err != nil {
		return err
	}
	return installer.Uninstall(opts)
}

func cmdStart(ctx context.Context, e *env, args []string) error {
	opts, err := serviceOptions("start", e, args)
	if err != nil {
		return err
	}
	return installer.Start(opts)
}

func cmdStop(ctx context.Context, e *env, args []string) error {
	opts, err := serviceOptions("stop", e, args)
	if err != nil {
		return err
	}
	return installer.Stop(opts)
}

func cmdRestart(ctx context.Context, e *env, args []string) error {
	opts, err := serviceOptions("restart", e, args)
	if err != nil {
		return err
	}
	return installer.Restart(opts)
}

// newServiceLogger is the logger under a service manager: stderr, which
// journald and launchd collect; on Windows, where nobody reads stderr, a
// size-rotated file in the data directory plus the Event Log for warnings
// and errors.
func newServiceLogger(cfg *config.Config, e *env) *slog.Logger {
	if runtime.GOOS != "windows" {
		return newLogger(cfg, e.stderr)
	}
	file := newLogger(cfg, installer.LogFile(cfg.DataDir, "")).Handler()
	el, err := installer.NewEventLogHandler(serviceName, slog.LevelWarn)
	if err != nil {
		return slog.New(file)
	}
	return slog.New(slog.NewMultiHandler(file, el))
}
