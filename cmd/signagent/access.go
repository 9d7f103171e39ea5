package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/config"
)

// Access a service account needs, as permission bits.
const (
	accRead  = 4
	accWrite = 2
	accExec  = 1
)

// wellKnownWindowsAccounts run services without a password and are not
// users os/user can look up.
var wellKnownWindowsAccounts = []string{"localsystem", `nt authority\system`, `nt authority\localservice`,
	`nt authority\local service`, `nt authority\networkservice`, `nt authority\network service`}

// serviceAccountExists refuses an account the system does not know, before
// a service is installed to run as it.
func serviceAccountExists(name string) error {
	if runtime.GOOS == "windows" {
		for _, w := range wellKnownWindowsAccounts {
			if strings.EqualFold(name, w) {
				return nil
			}
		}
	}
	lookup := name
	if runtime.GOOS == "windows" {
		// The service manager's ".\name" is a local account: "name" to
		// the lookup.
		lookup = strings.TrimPrefix(name, `.\`)
	}
	if _, err := user.Lookup(lookup); err != nil {
		hint := "create it first (for example: useradd --system --no-create-home " + name + "), or check the spelling"
		if runtime.GOOS == "windows" {
			hint = `give it as DOMAIN\name (a gMSA as DOMAIN\name$), or .\name for a local account; check that this machine reaches the domain`
		}
		return signagent.ConfigError(fmt.Sprintf("no account named %q on this machine", name), hint, err)
	}
	return nil
}

// accessTarget is one path the service account must reach, and how.
type accessTarget struct {
	key, path string
	want      int  // accRead, accWrite, accExec bits
	dir       bool // a folder the agent creates when missing
	secret    bool // do not print the path (it may be a pasted secret)
}

// accessTargets lists what the agent running on cfg reads and writes:
// every folder and the data directory (list, create, rename: rwx), and
// the certificate, key, password, secret and CA files (read).
func accessTargets(cfg *config.Config, dataDir bool) []accessTarget {
	var out []accessTarget
	if dataDir && cfg.DataDir != "" {
		out = append(out, accessTarget{key: "data_dir", path: cfg.DataDir, want: accRead | accWrite | accExec, dir: true})
	}
	for i, f := range cfg.Folders {
		for _, r := range []struct{ key, path string }{{"inbox", f.Inbox}, {"outbox", f.Outbox}, {"error", f.Error}, {"archive", f.Archive}} {
			if r.path != "" {
				out = append(out, accessTarget{key: fmt.Sprintf("folders[%d].%s", i, r.key), path: r.path,
					want: accRead | accWrite | accExec, dir: true})
			}
		}
	}
	for _, b := range sortedBackends(cfg) {
		files := []struct {
			key, path string
			secret    bool
		}{{"key_file", b.KeyFile, false}, {"password_file", b.PasswordFile, true},
			{"client_secret_file", b.ClientSecretFile, true}, {"ca_file", b.CAFile, false}}
		if b.Type == config.TypeLocal && b.Certificate != config.DevCertificate {
			files = append(files, struct {
				key, path string
				secret    bool
			}{"certificate", b.Certificate, false})
		}
		for _, f := range files {
			if f.path != "" {
				out = append(out, accessTarget{key: "backends." + b.Name + "." + f.key, path: f.path, want: accRead, secret: f.secret})
			}
		}
	}
	return out
}

// checkAccessAs prints, for each of cfg's paths the account cannot use as
// the agent needs, one problem line with a hint, and returns how many. The
// data directory is left out when dataDir is false (install hands it to the
// account itself).
func checkAccessAs(w io.Writer, cfg *config.Config, name string, dataDir bool) (int, error) {
	acct, err := lookupAccount(name)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range accessTargets(cfg, dataDir) {
		p, want := t.path, t.want
		if t.dir {
			// A missing folder is created by the agent: its nearest
			// existing parent must let the account do that.
			for {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					break
				}
				parent := filepath.Dir(p)
				if parent == p {
					break
				}
				p, want = parent, accWrite|accExec
			}
		}
		err := acct.access(p, want)
		if err == nil {
			continue
		}
		n++
		shown := p
		if t.secret {
			shown = "the file"
		}
		fmt.Fprintf(w, "%s: %s: as %s: %s: %v\n", cfg.Path, t.key, name, shown, err)
		fmt.Fprintf(w, "  hint: %s\n", accessHint(name, p, want))
	}
	return n, nil
}

func accessHint(name, p string, want int) string {
	if runtime.GOOS == "windows" {
		return "grant the account access in the folder's or file's Security tab (or with icacls)"
	}
	mode := "rwX"
	if want == accRead {
		mode = "r"
	}
	return fmt.Sprintf("give %s access, e.g. setfacl -m u:%s:%s '%s' (and x on each parent folder), or chown/chgrp it", name, name, mode,
		strings.ReplaceAll(p, "'", `'\''`))
}
