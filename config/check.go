package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/signagent/signagent/signstash"
	"github.com/signagent/signagent/watcher"
)

// Check returns every problem Validate finds plus warnings and what only the
// filesystem can tell, in file order:
//
//   - each folder directory exists (the agent does not create them: a
//     missing one is more often an unmounted share than a new install), is a
//     directory and accepts new files (Check creates and removes a hidden
//     probe file);
//   - the inbox, outbox, error and archive of a folder are on one volume, so
//     that claims and publication are atomic renames;
//   - data_dir, when it exists, is a writable directory (the agent creates
//     it otherwise);
//   - certificate, key, password, client secret and CA files exist and can be
//     read; secret files readable by group or others are warnings (Unix);
//   - a listen address or an http:// URL that leaves this machine is a
//     warning.
//
// Check never creates directories and never reads the environment.
//
// A folder whose inbox is on a network share or user-space file system gets
// a warning saying that new files are found by scanning, and how often.
func (c *Config) Check() []Problem { return c.check(watcher.DetectFS) }

func (c *Config) check(detect func(string) (watcher.FS, error)) []Problem {
	v := &validator{c: c, detect: detect}
	v.ps = c.static()
	v.dataDir()
	for i, f := range c.Folders {
		v.folderDirs(indexKey("folders", i), f)
	}
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v.backendFiles(joinKey("backends", name), c.Backends[name])
	}
	return v.sorted()
}

func (v *validator) dataDir() {
	d := v.c.DataDir
	if d == "" {
		return
	}
	fi, err := os.Stat(d)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Created by the agent on start.
	case err != nil:
		v.errorf("data_dir", "let the account running signagent reach it", "cannot use %s: %s", d, errText(err))
	case !fi.IsDir():
		v.errorf("data_dir", "name a directory", "%s is not a directory", d)
	default:
		v.writable("data_dir", d)
	}
}

func (v *validator) folderDirs(key string, f *Folder) {
	type vol struct{ role, id string }
	var vols []vol
	for _, r := range roles(f) {
		if r.path == "" {
			continue
		}
		k := joinKey(key, r.key)
		fi, err := os.Stat(r.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			v.errorf(k, missingHint(r.path), "%s does not exist", r.path)
			continue
		case err != nil:
			v.errorf(k, "let the account running signagent reach it", "cannot use %s: %s", r.path, errText(err))
			continue
		case !fi.IsDir():
			v.errorf(k, "name a directory", "%s is not a directory", r.path)
			continue
		}
		v.writable(k, r.path)
		if id, err := volumeID(r.path); err == nil && id != "" {
			vols = append(vols, vol{r.key, id})
		}
	}
	for _, x := range vols[min(1, len(vols)):] {
		if x.id != vols[0].id {
			v.errorf(joinKey(key, x.role),
				"claims and publication are atomic renames: put inbox, outbox, error and archive on one volume, e.g. sibling folders of one share",
				"is on a different volume than %s", vols[0].role)
		}
	}
	v.inboxFS(key, f)
}

// slowNetworkScan is the scan interval above which a network inbox's
// configured interval earns a hint: files wait that long to be found.
const slowNetworkScan = 10 * time.Second

// inboxFS warns when the inbox is on a file system where file events do not
// arrive, saying how often it is scanned.
func (v *validator) inboxFS(key string, f *Folder) {
	if f.Inbox == "" || v.detect == nil {
		return
	}
	fs, err := v.detect(f.Inbox)
	if err != nil || !fs.Remote {
		return
	}
	interval := f.ScanInterval.Duration
	if interval == 0 {
		interval = fs.DefaultScanInterval()
	}
	hint := "nothing to do: new files are found within one scan interval plus settle; scan_interval sets the interval"
	if interval > slowNetworkScan {
		hint = fmt.Sprintf("new files wait up to %s to be found: leave scan_interval out for %s", interval, fs.DefaultScanInterval())
	}
	v.warnf(joinKey(key, "inbox"), hint, "%s", fs.Unreliable(interval))
}

// writable reports a directory where the agent cannot create files.
func (v *validator) writable(key, dir string) {
	f, err := os.CreateTemp(dir, ".signagent-check-*")
	if err != nil {
		v.errorf(key, "give the account running signagent write access to it", "cannot create files in %s: %s", dir, errText(err))
		return
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
}

func (v *validator) backendFiles(key string, b *Backend) {
	k := func(s string) string { return joinKey(key, s) }
	switch b.Type {
	case TypeLocal:
		if b.Certificate != DevCertificate && b.Certificate != "" {
			// A certificate file usually holds the private key too.
			v.file(k("certificate"), b.Certificate, true, true)
		}
		v.file(k("key_file"), b.KeyFile, true, true)
		v.file(k("password_file"), b.PasswordFile, true, false)
	case TypeSignStash:
		v.file(k("client_secret_file"), b.ClientSecretFile, true, false)
		v.file(k("ca_file"), b.CAFile, false, true)
		service := b.Service
		if service == "" {
			service = signstash.InferService(b.BaseURL)
		}
		if b.BaseURL != "" && len(b.Instances) == 0 && service == signstash.ServiceProxy {
			v.warnf(k("instances"), "list every proxy instance in instances (a single proxy: its own base URL); then a batch whose answer was lost is sent again once all of them deny it",
				"proxy instances behind one URL keep separate operations: with no instances listed, a batch whose answer was lost can never be proven absent and waits for an operator instead of being sent again")
		}
	}
}

// file checks that path (when set) is a readable regular file, and warns
// when a secret one is open to group or others. The paths of password and
// secret files are not repeated in problems, in case a secret was pasted
// where its file name belongs.
func (v *validator) file(key, path string, secret, showPath bool) {
	if path == "" {
		return
	}
	name := "the file"
	if showPath {
		name = path
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.errorf(key, "check the path (relative paths start at the config file's directory)", "%s does not exist", name)
		return
	case err != nil:
		v.errorf(key, "let the account running signagent read it", "cannot use %s: %s", name, errText(err))
		return
	case fi.IsDir():
		v.errorf(key, "name a file", "%s is a directory", name)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		v.errorf(key, "let the account running signagent read it", "cannot read %s: %s", name, errText(err))
		return
	}
	f.Close()
	if secret && secretTooOpen(fi) {
		v.warnf(key, "restrict it to the account running signagent: chmod 600 on the file", "holds a secret and is readable by group or others (mode %04o)", fi.Mode().Perm())
	}
}

// missingHint says what to do about a folder that does not exist: create
// it, unless it is on a Windows share (\\server\share\…), where the share
// itself is more likely unreachable than the folder missing.
func missingHint(dir string) string {
	if share, ok := uncShare(dir); ok {
		return fmt.Sprintf(`check that %s is reachable from this machine by the account running signagent `+
			`(a service running as LocalSystem reaches shares as the computer's account), then that the folder exists on it`, share)
	}
	return "create it: " + mkdirCommand(dir) + " (if it lives on a share, check that the share is mounted)"
}

// uncShare returns the \\server\share part of a UNC path (also in its
// \\?\UNC\ forms, and with forward slashes on Windows).
func uncShare(p string) (string, bool) {
	s := p
	if runtime.GOOS == "windows" {
		s = strings.ReplaceAll(p, "/", `\`)
	}
	switch {
	case strings.HasPrefix(strings.ToUpper(s), `\\?\UNC\`):
		s = s[len(`\\?\UNC\`):]
	case strings.HasPrefix(s, `\\?\`), strings.HasPrefix(s, `\\.\`):
		return "", false
	case strings.HasPrefix(s, `\\`):
		s = s[2:]
	default:
		return "", false
	}
	parts := strings.SplitN(s, `\`, 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", false
	}
	return `\\` + parts[0] + `\` + parts[1], true
}

// mkdirCommand is the shell command that creates dir on this OS.
func mkdirCommand(dir string) string {
	if runtime.GOOS == "windows" {
		return fmt.Sprintf(`mkdir "%s"`, dir)
	}
	return "mkdir -p '" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
}
