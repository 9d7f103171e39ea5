package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/signer"
	"github.com/signagent/signagent/signing"
)

// defaultSignOut is where sign writes when --out is not given: a folder of
// its own, since a signed PDF or XML keeps its input's name.
const defaultSignOut = "signed"

// cmdSign signs files directly with the local signer. Like the agent, it
// publishes a detached CAdES signature (NAME.p7s) with a copy of its
// content (NAME) beside it, and never replaces an existing file unless
// --force says so.
func cmdSign(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration `file` (uses its local backend and first folder's signature settings)")
	cert := fs.String("cert", "", "certificate: a .p12/.pfx or .pem `file`, or \"dev\"")
	keyFile := fs.String("key", "", "PEM private key `file` when --cert is a PEM chain without the key")
	pwFile := fs.String("password-file", "", "`file` holding the PKCS#12 password")
	tsa := fs.String("tsa", "", "RFC 3161 timestamp authority `URL` (PAdES B-T)")
	outDir := fs.String("out", defaultSignOut, "output `directory`, created if needed; a signed PDF or XML keeps its input's name, a detached signature is NAME.p7s with a copy of NAME beside it")
	force := fs.Bool("force", false, "replace outputs that already exist (without it, sign refuses to)")
	typ := fs.String("type", "auto", "signature type: auto, pades, xades or cades")
	reason := fs.String("reason", "", "signature reason")
	location := fs.String("location", "", "signature location")
	dataDir := fs.String("data-dir", "", "data `directory` for the dev certificate (default: the config's, or ./var/data)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{msg: "sign: no files given\nusage: signagent sign " + synopses["sign"]}
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
	fail := func(in string, err error, hint string) {
		fmt.Fprintf(e.stderr, "signagent: %s: %v\n", in, err)
		if h := signagent.HintOf(err); h != "" {
			hint = h
		}
		if hint != "" {
			fmt.Fprintln(e.stderr, "hint: "+hint)
		}
		failed++
	}
	for _, in := range fs.Args() {
		name := filepath.Base(in)
		t := opts.Type.Resolve(name)
		out := filepath.Join(*outDir, signing.OutputName(name, t))
		// A detached signature is useless without its content: a copy of
		// the input goes beside it, as the agent publishes it.
		content := ""
		if t == signing.TypeCAdES && abs(filepath.Join(*outDir, name)) != abs(in) {
			content = filepath.Join(*outDir, name)
		}
		if abs(out) == abs(in) {
			fail(in, errors.New("the output would replace the input"), "pass --out DIR")
			continue
		}
		if fi, err := os.Stat(in); err != nil || !fi.Mode().IsRegular() {
			if err == nil {
				err = errors.New("not a regular file")
			}
			fail(in, err, "")
			continue
		}
		if taken := existing(out, content); taken != "" && !*force {
			fail(in, fmt.Errorf("%s already exists; not replaced", taken), "pass --force to replace it, or --out DIR")
			continue
		}
		if err := signTo(ctx, l, in, out, content, name, opts, *force); err != nil {
			fail(in, err, "")
			continue
		}
		if content != "" {
			fmt.Fprintf(e.stdout, "%s -> %s (%s, content copied to %s)\n", in, out, t, content)
		} else {
			fmt.Fprintf(e.stdout, "%s -> %s (%s)\n", in, out, t)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d file(s) not signed", failed, fs.NArg())
	}
	return nil
}

// existing returns the first of paths that exists, "" when none does.
func existing(paths ...string) string {
	for _, p := range paths {
		if p != "" && exists(p) {
			return p
		}
	}
	return ""
}

// signTo signs in into a temporary file beside out and places it at out
// (and, when content is set, a copy of in there), replacing an existing
// file only with force.
func signTo(ctx context.Context, l *signer.Local, in, out, content, name string, opts signing.Options, force bool) error {
	tmp, err := tempBeside(out)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if _, err := l.SignFile(ctx, in, tmp, name, opts); err != nil {
		return err
	}
	if content != "" {
		ctmp, err := tempBeside(content)
		if err != nil {
			return err
		}
		defer os.Remove(ctmp)
		if err := copyInto(in, ctmp); err != nil {
			return err
		}
		if err := place(ctmp, content, force); err != nil {
			return err
		}
	}
	return place(tmp, out, force)
}

// tempBeside returns the name of a new empty file in p's folder.
func tempBeside(p string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(p), ".signagent-*.partial")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	return name, nil
}

func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// place moves tmp to dst. Without force it never replaces dst: a hard link
// fails when dst exists, however late it appeared.
func place(tmp, dst string, force bool) error {
	os.Chmod(tmp, 0o640)
	if force {
		return os.Rename(tmp, dst)
	}
	err := os.Link(tmp, dst)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s already exists; not replaced", dst)
	case exists(dst):
		return fmt.Errorf("%s already exists; not replaced", dst)
	}
	// No hard links here (some shares): the check above, then a rename.
	return os.Rename(tmp, dst)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// trust is the trust decision on a signer's certificate, apart from the
// signature's integrity.
type trust struct {
	Trusted bool
	// Reason names the decision: "chain to …", "self-signed certificate",
	// "untrusted chain: …", "development certificate", ….
	Reason string
}

// trustOf decides whether v's signer certificate chains to a trusted root
// (roots, or the system's when roots is nil), at the time a timestamp
// attests, else now. The claimed signing time proves nothing and is not
// used.
func trustOf(v signer.Verification, roots *x509.CertPool, now time.Time) trust {
	c := v.Certificate
	if c == nil {
		return trust{Reason: "unknown: the signature names no certificate"}
	}
	if c.Subject.CommonName == signer.DevCommonName {
		return trust{Reason: "development certificate, trusted by no one"}
	}
	at := now
	if !v.TimestampTime.IsZero() {
		at = v.TimestampTime
	}
	inter := x509.NewCertPool()
	for _, ch := range v.Chain {
		if !ch.Equal(c) {
			inter.AddCert(ch)
		}
	}
	_, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err == nil {
		return trust{Trusted: true, Reason: fmt.Sprintf("chain to a trusted root (issuer %q)", c.Issuer.String())}
	}
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil:
		return trust{Reason: "self-signed certificate"}
	case errors.As(err, &ua):
		return trust{Reason: fmt.Sprintf("untrusted chain: issuer %q does not lead to a trusted root", c.Issuer.String())}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return trust{Reason: fmt.Sprintf("certificate not valid at %s", at.UTC().Format(time.RFC3339))}
	}
	return trust{Reason: "untrusted chain: " + err.Error()}
}

// loadRoots reads the trust anchors of --ca (PEM certificates); nil and no
// error for "", which means the system's.
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && b.Type == "CERTIFICATE" {
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// verifiedFile is one file in `verify --json`: its signatures, or why it
// has none that could be checked.
type verifiedFile struct {
	File       string            `json:"file"`
	Signed     bool              `json:"signed"`
	Error      string            `json:"error,omitempty"`
	Signatures []verifiedSigJSON `json:"signatures,omitempty"`
}

type verifiedSigJSON struct {
	Index int    `json:"index"`
	Type  string `json:"type"`
	// Valid is integrity: the signature is intact and covers the content.
	Valid bool `json:"valid"`
	// Trusted is trust: the signer's certificate chains to a trusted root;
	// Trust says why or why not.
	Trusted bool      `json:"trusted"`
	Trust   string    `json:"trust"`
	Signer  string    `json:"signer"`
	Time    time.Time `json:"time"` // claimed by the signer
	// The timestamp token's time and authority, when timestamped.
	Timestamped   bool       `json:"timestamped"`
	TimestampTime *time.Time `json:"timestamp_time,omitempty"`
	TSA           string     `json:"tsa,omitempty"`
	Detail        string     `json:"detail,omitempty"`
	Error         string     `json:"error,omitempty"`
}

// cmdVerify checks signatures offline: for each signature, its integrity
// (intact, covering the content), then, apart, whether its signer is
// trusted. Exit 3 when a signature is invalid or a file unsigned (or, with
// --require-trust, untrusted); exit 1 when a file cannot be read.
func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON entry per file (unsigned files included)")
	caFile := fs.String("ca", "", "PEM `file` of the root certificates to trust instead of the system's")
	requireTrust := fs.Bool("require-trust", false, "count a valid signature by an untrusted signer as a failure (exit 3)")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{msg: "verify: no files given\nusage: signagent verify " + synopses["verify"]}
	}
	roots, err := loadRoots(*caFile)
	if err != nil {
		return usageError{msg: "--ca: " + err.Error()}
	}
	now := time.Now()
	invalid, unreadable := 0, 0
	var files []verifiedFile
	for _, p := range fs.Args() {
		vf := verifiedFile{File: p}
		vs, err := signer.VerifyFile(ctx, p)
		if err != nil {
			vf.Error = err.Error()
			files = append(files, vf)
			if errors.Is(err, signer.ErrUnsigned) {
				invalid++
			} else {
				unreadable++
			}
			if !*asJSON {
				fmt.Fprintf(e.stderr, "signagent: %s: %v\n", p, err)
			}
			continue
		}
		vf.Signed = true
		for _, v := range vs {
			tr := trustOf(v, roots, now)
			if !v.Valid || (*requireTrust && !tr.Trusted) {
				invalid++
			}
			js := verifiedSigJSON{Index: v.Index, Type: string(v.Type), Valid: v.Valid, Trusted: tr.Trusted, Trust: tr.Reason,
				Signer: v.Signer, Time: v.Time, Timestamped: v.Timestamped, TSA: v.TSA, Detail: v.Detail}
			if !v.TimestampTime.IsZero() {
				js.TimestampTime = &v.TimestampTime
			}
			if v.Err != nil {
				js.Error = v.Err.Error()
			}
			vf.Signatures = append(vf.Signatures, js)
			if *asJSON {
				continue
			}
			integrity := "VALID"
			if !v.Valid {
				integrity = "INVALID"
			}
			trusted := "trusted, " + tr.Reason
			if !tr.Trusted {
				trusted = "NOT TRUSTED, " + tr.Reason
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
			fmt.Fprintf(e.stdout, "%s: signature %d: %s (%s%s) signer %q claimed time %s%s\n  integrity: %s\n  trust: %s\n",
				p, v.Index+1, integrity, v.Type, ts, v.Signer, v.Time.UTC().Format(time.RFC3339), when, integrity, trusted)
			if detail != "" {
				fmt.Fprintf(e.stdout, "  note: %s\n", detail)
			}
		}
		files = append(files, vf)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(files); err != nil {
			return err
		}
	}
	if unreadable > 0 {
		return fmt.Errorf("%d file(s) could not be read", unreadable)
	}
	if invalid > 0 {
		return invalidError{msg: fmt.Sprintf("%d signature(s) or file(s) failed verification", invalid)}
	}
	return nil
}
