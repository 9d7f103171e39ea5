package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/ledger"
)

// Evidence lists what shows that an agent has used cfg's data directory and
// folders before, one line each: development keys, ledger backups, claim
// areas holding documents, published files, error files, archived
// originals. It is asked when the ledger is missing: with any evidence, a
// new ledger would forget what was signed and sign it again.
func Evidence(cfg *config.Config) []string {
	var out []string
	if dev := filepath.Join(cfg.DataDir, "dev"); holdsFile(dev, nil) {
		out = append(out, dev+" holds the development certificate and key")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if p := filepath.Join(cfg.DataDir, "ledger.db"+suffix); nonEmpty(p) {
			out = append(out, p+" is left from an earlier ledger")
		}
	}
	if bs, _ := ledger.ListBackups(filepath.Join(cfg.DataDir, "backups")); len(bs) > 0 {
		out = append(out, fmt.Sprintf("%d ledger backup(s), the latest %s", len(bs), bs[len(bs)-1]))
	}
	seen := map[string]bool{}
	add := func(dir, what, folder string, match func(string) bool) {
		if dir == "" || seen[dir+what] {
			return
		}
		seen[dir+what] = true
		if holdsFile(dir, match) {
			out = append(out, fmt.Sprintf("%s holds %s (folder %q)", dir, what, folder))
		}
	}
	visible := func(name string) bool { return !strings.HasPrefix(name, ".") }
	for _, f := range cfg.Folders {
		add(filepath.Join(f.Inbox, ledger.ClaimDir), "claimed documents", f.Name, nil)
		add(f.Outbox, "published files", f.Name, visible)
		add(f.Error, "error files", f.Name, func(name string) bool { return strings.HasSuffix(name, ".error.json") })
		add(f.Archive, "archived originals", f.Name, visible)
	}
	return out
}

// holdsFile reports whether the tree at dir, hidden sub-directories aside,
// holds a file whose name match accepts (any file when match is nil). It
// stops at the first.
func holdsFile(dir string, match func(string) bool) bool {
	errFound := errors.New("found")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable part proves nothing
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir // temporary or foreign
			}
			return nil
		}
		if match == nil || match(d.Name()) {
			return errFound
		}
		return nil
	})
	return err == errFound
}

func nonEmpty(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Size() > 0
}
