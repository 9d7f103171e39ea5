package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signagent/signagent/config"
	"github.com/signagent/signagent/installer"
)

// hiddenCommands run like the others but `signagent help` does not list
// them: they serve the release build, not the administrator.
func hiddenCommands() []command {
	return []command{
		{"package-files", "write the systemd unit, man page and bash completion a package installs", cmdPackageFiles},
	}
}

// cmdPackageFiles writes what the Linux packages install beside the binary,
// each generated from its one source: the systemd unit from the installer's
// renderer (as `signagent install` writes it) for the packaged
// configuration, the man page and the bash completion from the commands'
// own help.
func cmdPackageFiles(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("package-files", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the configuration `file` the package installs (its folders and data_dir go into the unit)")
	installed := fs.String("installed-config", "/etc/signagent/config.toml", "where the package installs that configuration (`path`)")
	exe := fs.String("executable", "/usr/bin/signagent", "where the package installs signagent (`path`)")
	user := fs.String("user", "signagent", "the service `account`")
	out := fs.String("out", "", "write signagent.service, signagent.8 and signagent.bash into this `directory`")
	if err := parseFlags(fs, args, e.stderr); err != nil {
		return err
	}
	if *cfgPath == "" || *out == "" || fs.NArg() > 0 {
		return usageError{"usage: signagent package-files --config FILE --out DIR"}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	opts := installer.Options{Executable: *exe, Config: *installed, User: *user, DataDir: cfg.DataDir}
	for _, f := range cfg.Folders {
		for _, d := range []string{f.Inbox, f.Outbox, f.Error, f.Archive} {
			if d != "" {
				opts.Folders = append(opts.Folders, d)
			}
		}
	}
	unit, err := installer.RenderSystemdUnit(opts)
	if err != nil {
		return err
	}
	help := commandHelp(ctx)
	var man, completion bytes.Buffer
	writeManPage(&man, help, manDate(e.getenv("SOURCE_DATE_EPOCH")), *installed, cfg.DataDir)
	writeBashCompletion(&completion, help)
	for name, content := range map[string][]byte{
		"signagent.service": []byte(unit),
		"signagent.8":       man.Bytes(),
		"signagent.bash":    completion.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(*out, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cmdHelp is one command as its help describes it.
type cmdHelp struct {
	name, summary string
	flags         []flagHelp
}

// flagHelp is one flag from a command's -h output: its name, the name of
// its argument ("" for a boolean) and its description.
type flagHelp struct {
	name, arg, usage string
}

// commandHelp runs every listed command with -h and reads its flags back
// from what the flag package printed, so the man page and the completion
// describe the flags the commands really take.
func commandHelp(ctx context.Context) []cmdHelp {
	var out []cmdHelp
	for _, c := range commands() {
		var stderr bytes.Buffer
		h := cmdHelp{name: c.name, summary: c.summary}
		c.run(ctx, &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: &stderr}, []string{"-h"})
		h.flags = parseFlagHelp(stderr.String())
		out = append(out, h)
	}
	return out
}

// parseFlagHelp reads flag.PrintDefaults output: "  -name arg" lines,
// each followed by its indented description.
func parseFlagHelp(s string) []flagHelp {
	var flags []flagHelp
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "  -"):
			name, arg, _ := strings.Cut(line[3:], " ")
			// A short boolean's description follows on the same line after a tab.
			if n, rest, ok := strings.Cut(name, "\t"); ok {
				name, arg = n, ""
				flags = append(flags, flagHelp{name: name, usage: strings.TrimSpace(rest)})
				continue
			}
			flags = append(flags, flagHelp{name: name, arg: strings.TrimSpace(arg)})
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			f := &flags[len(flags)-1]
			f.usage = strings.TrimSpace(f.usage + " " + strings.TrimSpace(line))
		}
	}
	return flags
}

// manDate is the man page's date: the release's SOURCE_DATE_EPOCH, so two
// builds of one release write the same page, or none.
func manDate(epoch string) string {
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02")
}

// roff escapes text for a man page line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func writeManPage(w io.Writer, help []cmdHelp, date, configPath, dataDir string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p(`.TH SIGNAGENT 8 "%s" "signagent %s" "System Administration"`, date, roff(version))
	p(".SH NAME")
	p(`signagent \- sign documents dropped into watched folders`)
	p(".SH SYNOPSIS")
	p(`.B signagent`)
	p(`.I command`)
	p(`.RI [ flags ]`)
	p(".SH DESCRIPTION")
	p("%s", roff("signagent watches the inbox folders named in its configuration, signs every new document "+
		"(PAdES for PDF, XAdES for XML, CAdES for anything else) in batches, through a remote signing service "+
		"or its local signer, and delivers signed files to an outbox and failures to an error folder with a "+
		"machine-readable error file. An SQLite ledger in the data directory records every step, so each "+
		"document is signed exactly once across crashes and restarts."))
	p(".PP")
	p("%s", roff("As a service it runs `signagent run --config "+configPath+"` under systemd. Run `signagent check` after every change to the configuration."))
	p(".SH COMMANDS")
	for _, c := range help {
		p(".TP")
		p(`.B %s`, roff(c.name))
		p("%s", roff(c.summary))
		for _, f := range c.flags {
			p(".RS")
			p(".TP")
			if f.arg != "" {
				p(`.BI \-\-%s " %s"`, roff(f.name), roff(f.arg))
			} else {
				p(`.B \-\-%s`, roff(f.name))
			}
			p("%s", roff(f.usage))
			p(".RE")
		}
	}
	p(".SH EXIT STATUS")
	for _, x := range []struct {
		code int
		text string
	}{
		{exitOK, "success"},
		{exitFailure, "the command failed at run time"},
		{exitUsage, "bad command line or configuration (each problem names its key and line), or a data directory that is in use or has lost its ledger"},
		{exitInvalid, "verify: a signature failed verification"},
	} {
		p(".TP")
		p(".B %d", x.code)
		p("%s", roff(x.text))
	}
	p(".SH FILES")
	p(".TP")
	p(".I %s", roff(configPath))
	p("%s", roff("the configuration; every key is documented in it, with its default"))
	if dataDir != "" {
		p(".TP")
		p(".I %s", roff(dataDir))
		p("%s", roff("the data directory: ledger, its backups and keys"))
	}
	p(".SH SEE ALSO")
	p(`.BR systemctl (1),`)
	p(`.BR journalctl (1)`)
}

func writeBashCompletion(w io.Writer, help []cmdHelp) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	var names, fileFlags, dirFlags []string
	for _, c := range help {
		names = append(names, c.name)
		for _, f := range c.flags {
			switch f.arg {
			case "file":
				fileFlags = append(fileFlags, "--"+f.name)
			case "directory":
				dirFlags = append(dirFlags, "--"+f.name)
			}
		}
	}
	slices.Sort(fileFlags)
	slices.Sort(dirFlags)
	p("# bash completion for signagent(8), generated from its commands' help.")
	p("_signagent() {")
	p(`	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} flags=""`)
	p(`	if [ "$COMP_CWORD" -eq 1 ]; then`)
	p(`		COMPREPLY=($(compgen -W "%s help" -- "$cur"))`, strings.Join(names, " "))
	p("		return")
	p("	fi")
	p("	case $prev in")
	if len(fileFlags) > 0 {
		p("	%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;", strings.Join(slices.Compact(fileFlags), "|"))
	}
	if len(dirFlags) > 0 {
		p("	%s) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;", strings.Join(slices.Compact(dirFlags), "|"))
	}
	p("	esac")
	p(`	case ${COMP_WORDS[1]} in`)
	for _, c := range help {
		var fl []string
		for _, f := range c.flags {
			fl = append(fl, "--"+f.name)
		}
		p(`	%s) flags="%s" ;;`, c.name, strings.Join(append(fl, "-h"), " "))
	}
	p("	esac")
	p(`	if [[ $cur == -* ]]; then`)
	p(`		COMPREPLY=($(compgen -W "$flags" -- "$cur"))`)
	p("	else")
	p(`		COMPREPLY=($(compgen -f -- "$cur"))`)
	p("	fi")
	p("}")
	p("complete -o filenames -F _signagent signagent")
}
