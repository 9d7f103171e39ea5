package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
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
	"github.com/signagent/signagent/signing"
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
	if err := parseFlags(fs, args, e.stderr); err != nil {
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

// cmdSign signs files directly with the local signer.
func cmdSign(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration `file` (uses its local backend and first folder's signature settings)")
	cert := fs.String("cert", "", "certificate: a .p12/.pfx or .pem `file`, or \"dev\"")
	keyFile := fs.String("key", "", "PEM private key `file` when --cert is a PEM chain without the key")
	pwFile := fs.String("password-file", "", "`file` holding the PKCS#12 password")
	tsa := fs.String("tsa", "", "RFC 3161 timestamp authority `URL` (PAdES B-T)")
	outDir := fs.String("out", ".", "output `directory`")
	typ := fs.String("type", "auto", "signature type: auto, pades, xades or cades")
	reason := fs.String("reason", "", "signature reason")
	location := fs.String("location", "", "signature location")
	dataDir := fs.String("data-dir", "", "data `directory` for the dev certificate (default: the config's, or ./var/data)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{msg: "sign: no files given\nusage: signagent sign [--config FILE | --cert FILE --password-file FILE] [--out DIR] FILE..."}
	}
	lc := signer.LocalConfig{Name: "cli", Certificate: *cert, KeyFile: *keyFile, PasswordFile: *pwFile, TSAURL: *tsa,
		DataDir: *dataDir, Logger: newLogger(config.Default(), e.stderr)}
	opts := signing.Options{Type: signing.Type(*typ), Reason: *reason, Location: *location}
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		for _, b := range sortedBackends(cfg) {
			if b.Type == config.TypeLocal && lc.Certificate == "" {
				lc.Certificate, lc.KeyFile, lc.PasswordFile, lc.TSAURL = b.Certificate, b.KeyFile, b.PasswordFile, b.TSAURL
				lc.MaxSize = int64(b.MaxSize)
			}
		}
		if lc.DataDir == "" {
			lc.DataDir = cfg.DataDir
		}
		if len(cfg.Folders) > 0 {
			o := cfg.Folders[0].Signature.Options()
			if *typ == "auto" {
				opts.Type = o.Type
			}
			if *reason == "" {
				opts.Reason = o.Reason
			}
			if *location == "" {
				opts.Location = o.Location
			}
			opts.Name, opts.Visible, opts.Timestamp = o.Name, o.Visible, o.Timestamp
		}
	}
	if lc.Certificate == "" {
		lc.Certificate = "dev"
	}
	if lc.DataDir == "" {
		lc.DataDir = filepath.Join("var", "data")
	}
	if *tsa != "" {
		opts.Timestamp = true
	}
	l, err := signer.NewLocal(lc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o750); err != nil {
		return err
	}
	failed := 0
	for _, in := range fs.Args() {
		name := filepath.Base(in)
		t := opts.Type.Resolve(name)
		out := filepath.Join(*outDir, signing.OutputName(name, t))
		if abs(out) == abs(in) {
			fmt.Fprintf(e.stderr, "signagent: %s: the output would replace the input\nhint: pass --out DIR\n", in)
			failed++
			continue
		}
		if _, err := l.SignFile(ctx, in, out, name, opts); err != nil {
			fmt.Fprintf(e.stderr, "signagent: %s: %v\n", in, err)
			if h := signagent.HintOf(err); h != "" {
				fmt.Fprintln(e.stderr, "hint: "+h)
			}
			failed++
			continue
		}
		fmt.Fprintf(e.stdout, "%s -> %s (%s)\n", in, out, t)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d file(s) not signed", failed, fs.NArg())
	}
	return nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// cmdVerify checks signatures offline and prints one line per signature.
func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{msg: "verify: no files given\nusage: signagent verify [--json] FILE..."}
	}
	invalid := 0
	var all []signer.Verification
	for _, p := range fs.Args() {
		vs, err := signer.VerifyFile(ctx, p)
		if err != nil {
			invalid++
			fmt.Fprintf(e.stderr, "signagent: %s: %v\n", p, err)
			continue
		}
		for _, v := range vs {
			all = append(all, v)
			if !v.Valid {
				invalid++
			}
			if *asJSON {
				continue
			}
			state := "VALID"
			if !v.Valid {
				state = "INVALID"
			}
			ts, when := "", ""
			if v.Timestamped {
				ts = ", timestamped"
				when = timestampText(v)
			}
			detail := v.Detail
			if v.Err != nil {
				detail = v.Err.Error()
			}
			fmt.Fprintf(e.stdout, "%s: signature %d: %s (%s%s) signer %q claimed time %s%s", p, v.Index+1, state, v.Type, ts,
				v.Signer, v.Time.UTC().Format(time.RFC3339), when)
			if detail != "" {
				fmt.Fprintf(e.stdout, ": %s", detail)
			}
			fmt.Fprintln(e.stdout)
		}
	}
	if *asJSON {
		type row struct {
			File        string    `json:"file"`
			Index       int       `json:"index"`
			Type        string    `json:"type"`
			Valid       bool      `json:"valid"`
			Signer      string    `json:"signer"`
			Time        time.Time `json:"time"` // claimed by the signer
			Timestamped bool      `json:"timestamped"`
			// The timestamp token's time and authority, when timestamped.
			TimestampTime *time.Time `json:"timestamp_time,omitempty"`
			TSA           string     `json:"tsa,omitempty"`
			Error         string     `json:"error,omitempty"`
		}
		var rows []row
		for _, v := range all {
			r := row{File: v.File, Index: v.Index, Type: string(v.Type), Valid: v.Valid, Signer: v.Signer, Time: v.Time, Timestamped: v.Timestamped, TSA: v.TSA}
			if !v.TimestampTime.IsZero() {
				r.TimestampTime = &v.TimestampTime
			}
			if v.Err != nil {
				r.Error = v.Err.Error()
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
	}
	if invalid > 0 {
		return invalidError{msg: fmt.Sprintf("%d signature(s) or file(s) failed verification", invalid)}
	}
	return nil
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
		return usageError{msg: "retry: name failed files, or pass --all\nusage: signagent retry --config FILE [--folder NAME] [FILE...|--all]"}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
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
	n := 0
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
				if within(f.Error, p) {
					targets = append(targets, p)
				}
			}
		}
		for _, p := range targets {
			dst, err := agent.Requeue(ctx, db, f.Name, f.Error, f.Inbox, p)
			if err != nil {
				fmt.Fprintf(e.stderr, "signagent: %s: %v\n", p, err)
				continue
			}
			fmt.Fprintf(e.stdout, "%s -> %s\n", p, dst)
			n++
		}
	}
	fmt.Fprintf(e.stdout, "%d document(s) requeued\n", n)
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
