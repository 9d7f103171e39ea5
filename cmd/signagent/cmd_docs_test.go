package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageFiles checks what the Linux packages install beside the
// binary: the installer's unit for the packaged paths, and a man page and
// completion that name every command and flag the help lists.
func TestPackageFiles(t *testing.T) {
	out := t.TempDir()
	var stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "1700000000"
		}
		return ""
	}
	if code := run(context.Background(), []string{"package-files", "--config", "../../config.example.toml", "--out", out},
		getenv, &bytes.Buffer{}, &stderr); code != exitOK {
		t.Fatalf("package-files: exit %d: %s", code, stderr.String())
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	unit := read("signagent.service")
	for _, want := range []string{
		`ExecStart="/usr/bin/signagent" run --config "/etc/signagent/config.toml"`,
		"User=signagent", "Type=notify", "ProtectSystem=strict", "ReadWritePaths=",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	man, completion := read("signagent.8"), read("signagent.bash")
	if !strings.HasPrefix(man, `.TH SIGNAGENT 8 "2023-11-14"`) {
		t.Errorf("man page header: %.60q", man)
	}
	for _, h := range commandHelp(context.Background()) {
		if !strings.Contains(man, ".B "+roff(h.name)+"\n") || !strings.Contains(completion, "\t"+h.name+") flags=") {
			t.Errorf("command %s missing from the man page or the completion", h.name)
		}
		for _, f := range h.flags {
			if !strings.Contains(man, `\-\-`+roff(f.name)) || !strings.Contains(completion, "--"+f.name) {
				t.Errorf("%s --%s missing from the man page or the completion", h.name, f.name)
			}
		}
	}
	var sign cmdHelp
	for _, h := range commandHelp(context.Background()) {
		if h.name == "sign" {
			sign = h
		}
	}
	if len(sign.flags) < 5 || sign.flags[0].usage == "" {
		t.Errorf("flags read from sign -h: %+v", sign.flags)
	}
	if strings.Contains(usageText(), "package-files") {
		t.Error("signagent help lists package-files")
	}
}

func usageText() string {
	var b bytes.Buffer
	usage(&b)
	return b.String()
}
