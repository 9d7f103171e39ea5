package installer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signagent/signagent"
)

// DefaultName is the service name used when Options.Name is empty.
const DefaultName = "signagent"

// StopBudget is how long service managers are told to wait for a graceful
// stop before killing the process. The agent aims to be done within 10 s;
// RunService should be given a budget below this.
const StopBudget = 15 * time.Second

// Options describe the service to install or control.
type Options struct {
	// Name is the service (unit, label) name; empty means DefaultName.
	Name string
	// Config is the absolute path of the configuration file the service runs with.
	Config string
	// User is the account the service runs as; empty means root on Unix and
	// LocalSystem on Windows.
	User string
	// PasswordFile holds the password of User on Windows (a domain or local
	// account; its first line is read, never printed). A group managed
	// service account (DOMAIN\name$) and the built-in accounts take none.
	// Service managers on other systems run local accounts without one.
	PasswordFile string
	// Executable is the absolute path of the signagent binary; empty means
	// the running executable.
	Executable string
	// Folders lists every configured folder (inbox, outbox, error, archive):
	// the service must be able to write them, and on Linux waits for the
	// file systems holding them to be mounted.
	Folders []string
	// DataDir holds the ledger, keys and (on Windows) log files. Install
	// creates it; uninstall keeps it unless Purge.
	DataDir string
	// DryRun prints what would be installed or removed and changes nothing.
	DryRun bool
	// Purge makes Uninstall also remove DataDir (ledger, keys, logs).
	Purge bool
	// Stdout receives results ("installed", "already installed", the dry-run
	// rendering); Stderr receives hints. Nil discards.
	Stdout, Stderr io.Writer
}

func (o Options) name() string {
	if o.Name == "" {
		return DefaultName
	}
	return o.Name
}

func (o Options) stdout() io.Writer {
	if o.Stdout == nil {
		return io.Discard
	}
	return o.Stdout
}

func (o Options) stderr() io.Writer {
	if o.Stderr == nil {
		return io.Discard
	}
	return o.Stderr
}

// password reads PasswordFile: "" when it is not set.
func (o Options) password() (string, error) {
	if o.PasswordFile == "" {
		return "", nil
	}
	if strings.HasSuffix(o.User, "$") {
		return "", signagent.ConfigError(fmt.Sprintf("%s is a group managed service account: it takes no password", o.User),
			"install without --password-file; Windows fetches the account's password from the domain", nil)
	}
	b, err := os.ReadFile(o.PasswordFile)
	if err != nil {
		return "", signagent.ConfigError("cannot read the password file", "check the path given to --password-file", nil)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(pw, "\r"), nil
}

// folders returns Folders without duplicates, in their given order.
func (o Options) folders() []string {
	var out []string
	for _, f := range o.Folders {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// resolve fills defaults and checks what every service manager needs:
// absolute paths for the executable, configuration and data directory.
// isAbs is the rule of the target OS, so Windows settings can be checked on
// any OS.
func (o Options) resolve(isAbs func(string) bool) (Options, error) {
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the signagent executable: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		o.Executable = exe
	}
	if strings.ContainsAny(o.name(), " /\\\"'$%") {
		return o, signagent.ConfigError(fmt.Sprintf("service name %q contains spaces or special characters", o.name()),
			"use letters, digits, '-', '_' or '.'", nil)
	}
	for _, p := range []struct{ what, path string }{
		{"executable", o.Executable}, {"configuration file", o.Config}, {"data directory", o.DataDir},
	} {
		if p.path == "" && p.what == "data directory" {
			continue
		}
		if !isAbs(p.path) {
			return o, signagent.ConfigError(fmt.Sprintf("%s path %q is not absolute", p.what, p.path),
				"a service does not start in your working directory: give the full path", nil)
		}
	}
	for _, f := range o.folders() {
		if !isAbs(f) {
			return o, signagent.ConfigError(fmt.Sprintf("folder %q is not an absolute path", f),
				"a service does not start in your working directory: use full paths in the configuration", nil)
		}
	}
	return o, nil
}

// adminError is returned when the service manager refuses us for lack of
// rights. hint says how to get them on this OS.
func adminError(hint string, err error) error {
	return signagent.LocalError("needs administrator rights", hint, err)
}

// notInstalledError is returned by Start, Stop and Restart when there is no
// such service.
func notInstalledError(name string) error {
	return signagent.ConfigError(fmt.Sprintf("service %s is not installed", name), "install it first: signagent install --config FILE", nil)
}
