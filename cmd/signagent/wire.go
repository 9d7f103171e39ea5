package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/ledger"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/watcher"
)

// configFlag adds --config to fs with the default path.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "config.toml", "configuration `file`")
}

// parseFlags parses args, turning flag errors into usage errors. -h prints
// the command's usage line (its synopsis), summary and flags, and exits 0.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		synopsis, ok := synopses[fs.Name()]
		if !ok {
			synopsis = "[flags]"
		}
		fmt.Fprintf(stderr, "usage: signagent %s %s\n", fs.Name(), synopsis)
		if s := summaryOf(fs.Name()); s != "" {
			fmt.Fprintf(stderr, "\n%s\n", s)
		}
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{} // the flag package has printed why and the usage
	}
	return nil
}

// errHelp: the command's help was asked for and printed (exit 0).
var errHelp = errors.New("help shown")

// summaryOf is the one-line summary of the named command.
func summaryOf(name string) string {
	for _, c := range append(commands(), hiddenCommands()...) {
		if c.name == name {
			return c.summary
		}
	}
	return ""
}

// noArgs refuses arguments after the flags of a command that takes none.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	return usageError{msg: fmt.Sprintf("%s: unexpected argument %q\nhint: run `signagent %s -h`", fs.Name(), fs.Arg(0), fs.Name())}
}

// newLogger builds the process logger from the configuration.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openLedger opens the ledger in the data directory.
func openLedger(cfg *config.Config) (*ledger.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, signagent.LocalError("cannot create the data directory "+cfg.DataDir, "check data_dir and the account's rights", err)
	}
	return ledger.Open(filepath.Join(cfg.DataDir, "ledger.db"))
}

// secret resolves a signstash client secret from its file or environment
// variable; it is never logged.
func secret(b *config.Backend, getenv func(string) string) (string, error) {
	if b.ClientSecretFile != "" {
		data, err := os.ReadFile(b.ClientSecretFile)
		if err != nil {
			return "", signagent.ConfigError(fmt.Sprintf("backends.%s.client_secret_file: cannot read the secret file", b.Name),
				"check the path and that the service account can read it", err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	if b.ClientSecretEnv != "" {
		if v := getenv(b.ClientSecretEnv); v != "" {
			return v, nil
		}
		return "", signagent.ConfigError(fmt.Sprintf("backends.%s.client_secret_env: environment variable %s is empty", b.Name, b.ClientSecretEnv),
			"set it in the service's environment, or use client_secret_file", nil)
	}
	return "", nil
}

// newBackend builds the backend named by b.
func newBackend(cfg *config.Config, b *config.Backend, e *env, log *slog.Logger) (signing.Backend, error) {
	switch b.Type {
	case config.TypeLocal:
		return signer.NewLocal(signer.LocalConfig{
			Name:         b.Name,
			Certificate:  b.Certificate,
			KeyFile:      b.KeyFile,
			PasswordFile: b.PasswordFile,
			TSAURL:       b.TSAURL,
			DataDir:      cfg.DataDir,
			MaxSize:      int64(b.MaxSize),
			Workers:      b.Workers,
			Logger:       log,
		})
	case config.TypeSignStash:
		sec, err := secret(b, e.getenv)
		if err != nil {
			return nil, err
		}
		return signstash.New(signstash.Config{
			TempDir:        spoolDir(cfg.DataDir, log),
			Name:           b.Name,
			BaseURL:        b.BaseURL,
			TokenURL:       b.TokenURL,
			ClientID:       b.ClientID,
			ClientSecret:   sec,
			Mode:           b.Mode,
			SyncMaxFiles:   b.SyncMaxFiles,
			CAFile:         b.CAFile,
			Timeout:        b.Timeout.Duration,
			PollInterval:   b.PollInterval.Duration,
			Transport:      b.Transport,
			Paths:          b.Paths,
			Instances:      b.Instances,
			Service:        b.Service,
			InstanceScheme: b.InstanceScheme,
			ProofOfAbsence: b.ProofOfAbsence,
			HTTPProxy:      b.HTTPProxy,
			Logger:         log.With("backend", b.Name),
		})
	}
	return nil, fmt.Errorf("backends.%s: unknown type %q", b.Name, b.Type)
}

// spoolDir is where the Sign'Stash client spools an operation's ZIP (the
// multipart transport) when it cannot read it as it arrives: data_dir/tmp, on the data directory's disk rather
// than a /tmp that may be memory. Spools older than a day, left by a crash
// in the middle of a download, are removed. "" (the system's temp folder)
// when it cannot be created.
func spoolDir(dataDir string, log *slog.Logger) string {
	if dataDir == "" {
		return ""
	}
	dir := filepath.Join(dataDir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Warn("cannot create the spool folder; using the system's temp folder", "dir", dir, "err", err)
		return ""
	}
	old, _ := filepath.Glob(filepath.Join(dir, "signstash-*.zip"))
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(p)
		}
	}
	return dir
}

// newBackends builds every backend a folder uses.
func newBackends(cfg *config.Config, e *env, log *slog.Logger) (map[string]signing.Backend, error) {
	out := map[string]signing.Backend{}
	for _, f := range cfg.Folders {
		b := cfg.BackendOf(f)
		if b == nil || out[b.Name] != nil {
			continue
		}
		be, err := newBackend(cfg, b, e, log)
		if err != nil {
			return nil, err
		}
		out[b.Name] = be
	}
	return out, nil
}

// newAgent wires the pipeline from the configuration.
func newAgent(cfg *config.Config, db *ledger.DB, backends map[string]signing.Backend, log *slog.Logger) *agent.Agent {
	a := &agent.Agent{Ledger: db, Logger: log, OutputMode: cfg.OutputMode.Perm(), OutcomeUnknownAfter: cfg.OutcomeUnknownAfter.Duration}
	for _, f := range cfg.Folders {
		a.Folders = append(a.Folders, &agent.Folder{
			Name:        f.Name,
			Inbox:       f.Inbox,
			Outbox:      f.Outbox,
			Error:       f.Error,
			Archive:     f.Archive,
			Backend:     backends[cfg.BackendOf(f).Name],
			Opts:        f.Signature.Options(),
			MaxFiles:    f.MaxFiles,
			MaxBytes:    int64(f.MaxBytes),
			MaxWait:     f.MaxWait.Duration,
			OnCollision: f.OnCollision,
			GiveUpAfter: f.GiveUpAfter.Duration,
			Watch: watcher.Config{
				Recursive:    f.Recursive,
				Include:      f.Include,
				Exclude:      f.Exclude,
				Settle:       f.Settle.Duration,
				ScanInterval: f.ScanInterval.Duration,
				DoneMarker:   f.DoneMarker,
			},
		})
	}
	return a
}

func hintOf(err error) string { return signagent.HintOf(err) }
