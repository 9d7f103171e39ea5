package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/ledger"
)

// cmdResolve records an operator's decision on a batch whose outcome stayed
// unknown (status lists them): --resend sends it again under a new
// reference, --fail moves its documents to error/ as OUTCOME_UNKNOWN. The
// agent carries the decision out: at once when it runs, else when it
// starts.
func cmdResolve(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	resend := fs.Bool("resend", false, "the service did not take the batch: send it again")
	fail := fs.Bool("fail", false, "the service took (or must not take) the batch: fail its documents")
	// Flags may come before or after the batch.
	var batches []string
	for {
		if err := parseFlags(fs, args, e.stderr); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		batches, args = append(batches, fs.Arg(0)), fs.Args()[1:]
	}
	if len(batches) != 1 || *resend == *fail {
		return usageError{msg: "resolve: name one batch and one of --resend or --fail\nusage: signagent resolve " + synopses["resolve"]}
	}
	decision := ledger.DecisionFail
	if *resend {
		decision = ledger.DecisionResend
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	// As for retry: a running agent owns the data directory and reads the
	// decision from the ledger; with none running, hold it meanwhile.
	lock, err := lockDataDir(ctx, cfg, "resolve")
	if le, ok := err.(*datadir.LockedError); ok && le.Command == datadir.CommandRun {
		err = nil
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	db, err := openExistingLedger(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	ub, err := db.Resolve(ctx, batches[0], decision)
	if errors.Is(err, ledger.ErrNotUnknown) {
		return signagent.ConfigError("resolve: "+err.Error(),
			"only a batch listed under \"outcome unknown\" by `signagent status` waits for a decision", nil)
	}
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	what := "its documents go to error/ as OUTCOME_UNKNOWN"
	if decision == ledger.DecisionResend {
		what = "it is sent again under a new reference"
	}
	fmt.Fprintf(e.stdout, "batch %d (%s, folder %s, %d documents): %s when the agent runs\n", ub.ID, ub.Ref, ub.Folder, ub.Docs, what)
	return nil
}
