// Command signagent watches inbox folders, signs every new document and
// publishes it to an outbox. Run `signagent help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed at run time
	exitUsage   = 2 // bad command line or configuration
	exitInvalid = 3 // verify: a signature is invalid
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// env is what commands get from the process: arguments and streams are
// passed in so tests can drive every command in-process.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// invalidError marks a failed verification (exit code 3).
type invalidError struct{ msg string }

func (e invalidError) Error() string { return e.msg }

type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"run", "watch the folders and sign (foreground, or under the service manager)", cmdRun},
		{"check", "validate the configuration, folders and backends", cmdCheck},
		{"status", "show queues, held folders and recent failures", cmdStatus},
		{"sign", "sign files directly, no folders involved", cmdSign},
		{"verify", "check the signatures of files offline", cmdVerify},
		{"retry", "requeue failed documents from error/", cmdRetry},
		{"recheck", "make the running agent's held folders try again now", cmdRecheck},
		{"resolve", "decide on a batch whose outcome stayed unknown: send it again or fail it", cmdResolve},
		{"reload", "make the running agent read its configuration again (validated first; drains, then runs on it)", cmdReload},
		{"install", "install as a system service", cmdInstall},
		{"uninstall", "remove the system service", cmdUninstall},
		{"start", "start the installed service", cmdStart},
		{"stop", "stop the installed service", cmdStop},
		{"restart", "restart the installed service", cmdRestart},
		{"version", "print the version", cmdVersion},
	}
}

// synopses are the commands' usage lines after "signagent NAME", which
// `signagent NAME -h` prints above the flags.
var synopses = map[string]string{
	"run":       "[--config FILE] [--new-ledger]",
	"check":     "[--config FILE] [--as USER]",
	"status":    "[--config FILE] [--json]",
	"sign":      "[--config FILE | --cert FILE [--key FILE] [--password-file FILE]] [--out DIR] [--force] FILE...",
	"verify":    "[--json] [--ca FILE] [--require-trust] FILE...",
	"retry":     "[--config FILE] [--folder NAME] (FILE... | --all)",
	"recheck":   "[--config FILE] [FOLDER...]",
	"resolve":   "[--config FILE] BATCH (--resend | --fail)",
	"reload":    "[--config FILE]",
	"install":   "[--config FILE] [--user ACCOUNT [--password-file FILE]] [--dry-run]",
	"uninstall": "[--config FILE] [--purge] [--dry-run]",
	"start":     "[--config FILE]",
	"stop":      "[--config FILE]",
	"restart":   "[--config FILE]",
	"version":   "",
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range append(commands(), hiddenCommands()...) {
		if c.name == args[0] {
			return exitCode(stderr, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "signagent: unknown command %q\nhint: run `signagent help`\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: signagent <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun `signagent <command> -h` for a command's flags")
}

// exitCode prints err (message, then a hint line) and maps it to an exit
// code. This is the only place errors become exit codes.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ps *config.Problems
	var ue usageError
	var ie invalidError
	var le *datadir.LockedError
	switch {
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &le):
		fmt.Fprintln(stderr, "signagent: "+le.Error())
		fmt.Fprintln(stderr, "hint: "+lockedHint(le))
		return exitUsage
	case errors.As(err, &ps):
		printProblems(stderr, "signagent: ", *ps)
		return exitUsage
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(stderr, "signagent: "+ue.msg)
		}
		return exitUsage
	case errors.As(err, &ie):
		fmt.Fprintln(stderr, "signagent: "+ie.msg)
		return exitInvalid
	}
	fmt.Fprintln(stderr, "signagent: "+err.Error())
	if h := hintOf(err); h != "" {
		fmt.Fprintln(stderr, "hint: "+h)
	}
	return exitFailure
}

// printProblems prints configuration problems, each with its hint.
func printProblems(w io.Writer, prefix string, ps config.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, prefix+p.String())
		if p.Hint != "" {
			fmt.Fprintln(w, "  hint: "+p.Hint)
		}
	}
}
