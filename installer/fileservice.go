package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/signagent/signagent"
	"github.com/signagent/signagent/internal/atomicfile"
)

// command is one service-manager invocation. A tolerated command's failure
// is reported as a warning and does not stop the operation.
type command struct {
	args     []string
	tolerate bool
}

func (c command) String() string { return strings.Join(c.args, " ") }

// fileService installs a service that is described by one file and driven by
// a command-line tool: a systemd unit with systemctl, a launchd property list
// with launchctl. It holds no OS-specific code, so it is tested on any OS
// with a fake runner and a temporary directory.
type fileService struct {
	name    string
	path    string // the unit or property list
	content string

	afterWrite   []command // after a new or changed file
	beforeRemove []command
	afterRemove  []command
	start        []command
	stop         []command
	restart      []command
	// logDir, when set, is created with the data directory.
	logDir string

	// run executes a command and returns an error carrying its output.
	run func(args ...string) error
	// isAdmin reports whether we may change the system; adminHint says how
	// to get the rights.
	isAdmin   func() bool
	adminHint string
}

func (s *fileService) runAll(o Options, cmds []command) error {
	for _, c := range cmds {
		if err := s.run(c.args...); err != nil {
			if !c.tolerate {
				return err
			}
			fmt.Fprintf(o.stderr(), "warning: %v\n", err)
		}
	}
	return nil
}

func (s *fileService) install(o Options) error {
	if o.DryRun {
		w := o.stdout()
		fmt.Fprintf(w, "would write %s:\n%s", s.path, s.content)
		for _, c := range s.afterWrite {
			fmt.Fprintf(w, "would run: %s\n", c)
		}
		if o.DataDir != "" {
			fmt.Fprintf(w, "would create %s%s\n", o.DataDir, ownerNote(o.User))
		}
		return nil
	}
	if !s.isAdmin() {
		return adminError(s.adminHint, nil)
	}
	if err := s.makeDataDir(o); err != nil {
		return err
	}
	old, err := os.ReadFile(s.path)
	switch {
	case err == nil && string(old) == s.content:
		// Still make sure it is enabled: safe to repeat.
		if err := s.runAll(o, s.afterWrite); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout(), "already installed: %s\n", s.path)
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return s.localError("read "+s.path, err)
	}
	if err := atomicfile.WriteFile(s.path, []byte(s.content), 0o644); err != nil {
		return s.localError("write "+s.path, err)
	}
	if err := s.runAll(o, s.afterWrite); err != nil {
		return err
	}
	if old != nil {
		fmt.Fprintf(o.stdout(), "updated %s\n", s.path)
		fmt.Fprintf(o.stderr(), "hint: restart the service to apply the change: signagent restart --config %s\n", o.Config)
		return nil
	}
	fmt.Fprintf(o.stdout(), "installed %s\n", s.path)
	fmt.Fprintf(o.stderr(), "hint: start it with: signagent start --config %s\n", o.Config)
	return nil
}

func ownerNote(user string) string {
	if user == "" {
		return " (mode 0750)"
	}
	return " (owner " + user + ", mode 0750)"
}

// makeDataDir creates the data directory (and the log directory) owned by
// the service's user.
func (s *fileService) makeDataDir(o Options) error {
	if o.DataDir == "" {
		return nil
	}
	dirs := []string{o.DataDir}
	if s.logDir != "" {
		dirs = append(dirs, s.logDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return s.localError("create "+d, err)
		}
	}
	if o.User == "" {
		return nil
	}
	u, err := user.Lookup(o.User)
	if err != nil {
		return signagent.ConfigError(fmt.Sprintf("user %q does not exist", o.User),
			fmt.Sprintf("create it first (for example: useradd --system --home-dir %s %s), or install without a user", o.DataDir, o.User), nil)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil // not a numeric account (not Unix): nothing to chown
	}
	for _, d := range dirs {
		if err := os.Chown(d, uid, gid); err != nil {
			return s.localError("hand "+d+" to "+o.User, err)
		}
	}
	return nil
}

func (s *fileService) uninstall(o Options) error {
	_, statErr := os.Stat(s.path)
	installed := statErr == nil
	if o.DryRun {
		w := o.stdout()
		if installed {
			for _, c := range s.beforeRemove {
				fmt.Fprintf(w, "would run: %s\n", c)
			}
			fmt.Fprintf(w, "would remove %s\n", s.path)
			for _, c := range s.afterRemove {
				fmt.Fprintf(w, "would run: %s\n", c)
			}
		} else {
			fmt.Fprintf(w, "not installed: %s does not exist\n", s.path)
		}
		return purge(o)
	}
	if !s.isAdmin() {
		return adminError(s.adminHint, nil)
	}
	if installed {
		if err := s.runAll(o, s.beforeRemove); err != nil {
			return err
		}
		if err := os.Remove(s.path); err != nil {
			return s.localError("remove "+s.path, err)
		}
		if err := s.runAll(o, s.afterRemove); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout(), "uninstalled %s\n", s.path)
	} else {
		fmt.Fprintf(o.stdout(), "not installed: %s does not exist\n", s.path)
	}
	return purge(o)
}

func (s *fileService) control(o Options, action string) error {
	var cmds []command
	switch action {
	case "start":
		cmds = s.start
	case "stop":
		cmds = s.stop
	case "restart":
		cmds = s.restart
	default:
		return fmt.Errorf("unknown service action %q", action)
	}
	if _, err := os.Stat(s.path); err != nil {
		return notInstalledError(s.name)
	}
	if o.DryRun {
		for _, c := range cmds {
			fmt.Fprintf(o.stdout(), "would run: %s\n", c)
		}
		return nil
	}
	if !s.isAdmin() {
		return adminError(s.adminHint, nil)
	}
	if err := s.runAll(o, cmds); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout(), "%s: %s\n", past(action), s.name)
	return nil
}

func past(action string) string {
	switch action {
	case "stop":
		return "stopped"
	default:
		return action + "ed"
	}
}

func (s *fileService) localError(what string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return adminError(s.adminHint, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// purge removes the data directory when o.Purge is set, keeping the
// configuration file if it lives there. It refuses a data directory that
// holds a watched folder: purging must never delete documents. Without
// Purge it says what was kept.
func purge(o Options) error {
	if o.DataDir == "" {
		return nil
	}
	if _, err := os.Stat(o.DataDir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if !o.Purge {
		fmt.Fprintf(o.stdout(), "kept %s (ledger, keys, logs); uninstall with --purge to remove it\n", o.DataDir)
		return nil
	}
	dataDir := filepath.Clean(o.DataDir)
	if !filepath.IsAbs(dataDir) || filepath.Dir(dataDir) == dataDir {
		return signagent.ConfigError(fmt.Sprintf("refusing to purge %q", o.DataDir), "give the agent's own data directory", nil)
	}
	for _, f := range o.folders() {
		if within(dataDir, filepath.Clean(f)) || within(filepath.Clean(f), dataDir) {
			return signagent.ConfigError(fmt.Sprintf("refusing to purge %s: it overlaps the folder %s, and documents must never be deleted", dataDir, f),
				"remove the data directory by hand once the folders are moved elsewhere", nil)
		}
	}
	keep := ""
	if o.Config != "" && within(dataDir, filepath.Clean(o.Config)) {
		rel, _ := filepath.Rel(dataDir, filepath.Clean(o.Config))
		keep = strings.SplitN(rel, string(filepath.Separator), 2)[0]
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("purge %s: %w", dataDir, err)
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		p := filepath.Join(dataDir, e.Name())
		if o.DryRun {
			fmt.Fprintf(o.stdout(), "would remove %s\n", p)
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("purge %s: %w", p, err)
		}
	}
	if keep != "" {
		fmt.Fprintf(o.stdout(), "kept %s\n", filepath.Join(dataDir, keep))
		if !o.DryRun {
			fmt.Fprintf(o.stdout(), "purged %s\n", dataDir)
		}
		return nil
	}
	if o.DryRun {
		fmt.Fprintf(o.stdout(), "would remove %s\n", dataDir)
		return nil
	}
	if err := os.Remove(dataDir); err != nil {
		return fmt.Errorf("purge %s: %w", dataDir, err)
	}
	fmt.Fprintf(o.stdout(), "purged %s\n", dataDir)
	return nil
}

// within reports whether p is dir or lies under it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
