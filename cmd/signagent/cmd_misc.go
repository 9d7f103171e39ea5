package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/agent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/internal/datadir"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signstash"
)

func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signagent %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// cmdCheck validates the configuration, the folders and every backend, and
// reports every problem at once.
func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	as := fs.String("as", "", "also check, as this `account` would, that it can use every folder, the data directory and the secret files (the service account; Unix)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if cfg == nil {
		return err // the file cannot be read or is not TOML
	}
	// Check reports the decoding problems too, plus what the file system
	// says: every problem at once, each with its hint.
	problems := config.Problems(cfg.Check())
	printProblems(e.stdout, "", problems)
	errs := len(problems.Errors())
	if *as != "" && cfg != nil {
		n, aerr := checkAccessAs(e.stdout, cfg, *as, true)
		if aerr != nil {
			return aerr
		}
		errs += n
	}
	if err != nil {
		// The backends of a configuration that does not decode are not
		// worth contacting.
		return usageError{msg: fmt.Sprintf("%d problem(s) found", max(errs, 1))}
	}
	log := newLogger(cfg, io.Discard)
	for _, b := range sortedBackends(cfg) {
		if b.Type == config.TypeLocal && b.Certificate == config.DevCertificate && !signer.DevExists(cfg.DataDir) {
			// check never creates keys: run does, as the service's account
			// (made here, by root, the service could not read them).
			fmt.Fprintf(e.stdout, "backends.%s: ok (local: the development certificate is created at the first run in %s)\n", b.Name, cfg.DataDir)
			fmt.Fprintf(e.stdout, "%s: backends.%s.certificate: warning: the development certificate's signatures are NOT trusted by anyone\n  hint: configure a real certificate (.p12) before production use\n", cfg.Path, b.Name)
			continue
		}
		be, err := newBackend(cfg, b, e, log)
		if err == nil {
			if c, ok := be.(*signstash.Client); ok {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err = c.Check(cctx)
				cancel()
			}
		}
		if err != nil {
			errs++
			fmt.Fprintf(e.stdout, "%s: backends.%s: %v\n", cfg.Path, b.Name, err)
			if h := signagent.HintOf(err); h != "" {
				fmt.Fprintf(e.stdout, "  hint: %s\n", h)
			}
			continue
		}
		desc := b.Type
		if c, ok := be.(*signstash.Client); ok {
			desc += ": " + c.Describe() // which service, instances, the calls the server offers
		}
		if l, ok := be.(*signer.Local); ok {
			desc += ": " + certificateNotes(e.stdout, cfg.Path, b.Name, l.Certificate(), time.Now())
		}
		fmt.Fprintf(e.stdout, "backends.%s: ok (%s)\n", b.Name, desc)
		if c, ok := be.(*signstash.Client); ok {
			for _, f := range c.Findings() { // the business API's answers, the OpenAPI differences
				fmt.Fprintf(e.stdout, "%s: backends.%s: warning: %s\n", cfg.Path, b.Name, f)
			}
		}
	}
	if errs > 0 {
		return usageError{msg: fmt.Sprintf("%d problem(s) found", errs)}
	}
	fmt.Fprintln(e.stdout, "configuration ok")
	return nil
}

func sortedBackends(cfg *config.Config) []*config.Backend {
	var out []*config.Backend
	for _, b := range cfg.Backends {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// timestampText says what a signature timestamp attests, apart from the
// claimed time: ", timestamp TIME by TSA".
func timestampText(v signer.Verification) string {
	if v.TimestampTime.IsZero() {
		return ""
	}
	s := ", timestamp " + v.TimestampTime.UTC().Format(time.RFC3339)
	if v.TSA != "" {
		s += fmt.Sprintf(" by %q", v.TSA)
	}
	return s
}

// cmdRetry moves failed documents from error/ back into the inbox, where
// the agent picks them up as a new attempt.
func cmdRetry(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	folder := fs.String("folder", "", "only this folder")
	all := fs.Bool("all", false, "requeue every failed document")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if !*all && fs.NArg() == 0 {
		return usageError{msg: "retry: name failed files, or pass --all\nusage: signagent retry " + synopses["retry"]}
	}
	if *all && fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("retry: unexpected argument %q: name failed files or pass --all, not both", fs.Arg(0))}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *folder != "" && cfg.Folder(*folder) == nil {
		var names []string
		for _, f := range cfg.Folders {
			names = append(names, f.Name)
		}
		return signagent.ConfigError(fmt.Sprintf("retry: no folder named %q in %s", *folder, cfg.Path),
			"the folders are: "+strings.Join(names, ", "), nil)
	}
	// Retry holds the data directory while no agent runs, so none starts
	// half-way. A running agent owns the directory instead: a requeue is one
	// ledger transaction and one rename into the inbox, which the agent is
	// built to see while it runs.
	lock, err := lockDataDir(ctx, cfg, "retry")
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
	n, failed := 0, 0
	found := map[string]bool{} // the arguments naming a failed document
	for _, f := range cfg.Folders {
		if *folder != "" && f.Name != *folder {
			continue
		}
		var targets []string
		if *all {
			targets, err = errorFiles(f.Error)
			if err != nil {
				return err
			}
		} else {
			for _, a := range fs.Args() {
				p := a
				if !filepath.IsAbs(p) {
					if exists(filepath.Join(f.Error, p)) {
						p = filepath.Join(f.Error, p)
					} else {
						p = abs(p)
					}
				}
				if within(f.Error, p) && exists(p) {
					targets = append(targets, p)
					found[a] = true
				}
			}
		}
		for _, p := range targets {
			dst, err := agent.Requeue(ctx, db, f.Name, f.Error, f.Inbox, p)
			if err != nil {
				fmt.Fprintf(e.stderr, "signagent: %s: %v\n", p, err)
				failed++
				continue
			}
			fmt.Fprintf(e.stdout, "%s -> %s\n", p, dst)
			n++
		}
	}
	for _, a := range fs.Args() {
		if !found[a] {
			where := "any folder's error folder"
			if *folder != "" {
				where = fmt.Sprintf("the error folder of %q", *folder)
			}
			fmt.Fprintf(e.stderr, "signagent: %s: no such failed document in %s\n", a, where)
			failed++
		}
	}
	fmt.Fprintf(e.stdout, "%d document(s) requeued\n", n)
	if failed > 0 {
		return signagent.DocError(signagent.CodeLocal, fmt.Sprintf("%d document(s) not requeued", failed),
			"name files as they are in error/ (relative to it, or full paths); `signagent status` lists recent failures")
	}
	return nil
}

// errorFiles lists the failed originals under dir (those with an error file).
func errorFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(p, ".error.json") {
			if orig := strings.TrimSuffix(p, ".error.json"); exists(orig) {
				out = append(out, orig)
			}
		}
		return nil
	})
	return out, err
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// certWarnDays is how long before its expiry check warns about a signing
// certificate.
const certWarnDays = 30

// certificateNotes describes a local backend's signing certificate for
// check, and prints a warning for a development certificate or one that
// expires within certWarnDays (an expired one never loads).
func certificateNotes(w io.Writer, cfgPath, backend string, c *x509.Certificate, now time.Time) string {
	days := int(c.NotAfter.Sub(now).Hours() / 24)
	desc := fmt.Sprintf("certificate %q, issued by %q, expires %s", c.Subject.CommonName, c.Issuer.CommonName, c.NotAfter.Format(time.DateOnly))
	switch {
	case c.Subject.CommonName == signer.DevCommonName:
		fmt.Fprintf(w, "%s: backends.%s.certificate: warning: the development certificate's signatures are NOT trusted by anyone\n  hint: configure a real certificate (.p12) before production use\n", cfgPath, backend)
	case days < certWarnDays:
		fmt.Fprintf(w, "%s: backends.%s.certificate: warning: the signing certificate %q expires in %d day(s), on %s\n  hint: renew it and configure the new one before then; documents fail to sign once it has expired\n",
			cfgPath, backend, c.Subject.CommonName, days, c.NotAfter.Format(time.DateOnly))
	}
	return desc
}
