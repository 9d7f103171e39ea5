package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signagent/signagent/ledger"
)

// TestCommandHelpAndArguments: every command's -h prints its usage line and
// flags and exits 0; an argument a command does not take exits 2; --version
// prints the version.
func TestCommandHelpAndArguments(t *testing.T) {
	for _, c := range commands() {
		code, stdout, stderr := runCmd(t, nil, c.name, "-h")
		if code != exitOK || !strings.HasPrefix(stderr, "usage: signagent "+c.name) || !strings.Contains(stderr, c.summary) {
			t.Errorf("%s -h: exit %d\n%s%s", c.name, code, stdout, stderr)
		}
		if _, ok := synopses[c.name]; !ok {
			t.Errorf("%s has no synopsis", c.name)
		}
		if code, _, stderr := runCmd(t, nil, c.name, "--no-such-flag"); code != exitUsage {
			t.Errorf("%s --no-such-flag: exit %d, want %d\n%s", c.name, code, exitUsage, stderr)
		}
	}
	l := newLayout(t, "")
	for _, args := range [][]string{
		{"status", "--config", l.cfg, "extra"},
		{"check", "--config", l.cfg, "extra"},
		{"run", "--config", l.cfg, "extra"},
		{"reload", "--config", l.cfg, "extra"},
		{"install", "--config", l.cfg, "--dry-run", "extra"},
		{"version", "extra"},
		{"retry", "--config", l.cfg, "--all", "extra"},
	} {
		code, _, stderr := runCmd(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, "extra") {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
	code, stdout, _ := runCmd(t, nil, "--version")
	if code != exitOK || !regexp.MustCompile(`^signagent \S+ \(go\S+, \w+/\w+\)\n$`).MatchString(stdout) {
		t.Errorf("--version: exit %d %q", code, stdout)
	}
}

// TestRetryUnknownFileOrFolder: retry of a file that is not a failed
// document, or in a folder that is not configured, says so and exits 1.
func TestRetryUnknownFileOrFolder(t *testing.T) {
	l := newLayout(t, "")
	db, err := ledger.Open(filepath.Join(l.data, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, stdout, stderr := runCmd(t, nil, "retry", "--config", l.cfg, "nope.pdf")
	if code != exitFailure || !strings.Contains(stderr, "nope.pdf: no such failed document in any folder's error folder") {
		t.Errorf("retry of an unknown file: exit %d\n%s%s", code, stdout, stderr)
	}
	// A file outside every error folder is not a failed document either.
	outside := filepath.Join(l.inbox, "x.pdf")
	os.WriteFile(outside, []byte("x"), 0o644)
	if code, _, stderr := runCmd(t, nil, "retry", "--config", l.cfg, outside); code != exitFailure || !strings.Contains(stderr, "no such failed document") {
		t.Errorf("retry of a file outside error/: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCmd(t, nil, "retry", "--config", l.cfg, "--folder", "nope", "--all")
	if code != exitFailure || !strings.Contains(stderr, `no folder named "nope"`) || !strings.Contains(stderr, "hint: the folders are: invoices") {
		t.Errorf("retry in an unknown folder: exit %d\n%s", code, stderr)
	}
}
