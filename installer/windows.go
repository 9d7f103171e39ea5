package installer

import (
	"fmt"
	"strings"
	"time"

	"github.com/signagent/signagent"
)

// WindowsService is what Install registers with the Windows service control
// manager. WindowsSettings computes it on every OS, so it can be reviewed
// (DryRun) and tested anywhere.
type WindowsService struct {
	Name        string
	DisplayName string
	Description string
	// Executable and Arguments form the service's command line.
	Executable string
	Arguments  []string
	// StartType is "automatic"; DelayedAutoStart starts it shortly after
	// boot, once the network and shares are more likely up.
	StartType        string
	DelayedAutoStart bool
	// Account runs the service; "LocalSystem" when Options.User is empty.
	// PasswordFile holds its password (Options.PasswordFile).
	Account      string
	PasswordFile string
	// Recovery holds the actions for the first, second and subsequent
	// failures; ResetPeriod is the failure-free time after which the count
	// starts again. RecoveryOnNonCrashFailures applies them also when the
	// service stops itself with an error, not only when it crashes.
	Recovery                   []RecoveryAction
	ResetPeriod                time.Duration
	RecoveryOnNonCrashFailures bool
	// EventSource is the Event Log source registered for the service.
	EventSource string
	// LogFile is the size-rotated log file in the data directory.
	LogFile string
}

// RecoveryAction is one failure slot: what the SCM does and after how long.
type RecoveryAction struct {
	Action string // "restart"
	Delay  time.Duration
}

// WindowsSettings returns the Windows service Install would register for
// opts, with opts.Executable taken as given (Install fills it in first). It
// does not touch the system and behaves the same on every OS.
func WindowsSettings(opts Options) WindowsService {
	name := opts.name()
	account := opts.User
	if account == "" {
		account = "LocalSystem"
	}
	ws := WindowsService{
		Name:             name,
		DisplayName:      "signagent document signing agent",
		Description:      "Signs documents dropped into watched folders and publishes them to the outbox.",
		Executable:       opts.Executable,
		Arguments:        []string{"run", "--config", opts.Config},
		StartType:        "automatic",
		DelayedAutoStart: true,
		Account:          account,
		PasswordFile:     opts.PasswordFile,
		Recovery: []RecoveryAction{
			{Action: "restart", Delay: 10 * time.Second},
			{Action: "restart", Delay: 30 * time.Second},
			{Action: "restart", Delay: 2 * time.Minute},
		},
		ResetPeriod:                24 * time.Hour,
		RecoveryOnNonCrashFailures: true,
		EventSource:                name,
	}
	if name != DefaultName {
		ws.DisplayName += " (" + name + ")"
	}
	if opts.DataDir != "" {
		ws.LogFile = winJoin(opts.DataDir, "logs", name+".log")
	}
	return ws
}

// String renders the settings for people, one per line, as DryRun prints them.
func (ws WindowsService) String() string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-30s %s\n", k+":", v) }
	row("service name", ws.Name)
	row("display name", ws.DisplayName)
	row("description", ws.Description)
	row("command line", winCommandLine(append([]string{ws.Executable}, ws.Arguments...)))
	start := ws.StartType
	if ws.DelayedAutoStart {
		start += " (delayed start)"
	}
	row("start type", start)
	row("account", ws.Account)
	if ws.PasswordFile != "" {
		row("account password", "read from "+ws.PasswordFile)
	}
	for i, r := range ws.Recovery {
		row(fmt.Sprintf("recovery, %s failure", [...]string{"first", "second", "subsequent"}[min(i, 2)]),
			fmt.Sprintf("%s after %s", r.Action, r.Delay))
	}
	row("reset failure count after", ws.ResetPeriod.String())
	row("recovery on error exits", fmt.Sprint(ws.RecoveryOnNonCrashFailures))
	row("event log source", ws.EventSource)
	if ws.LogFile != "" {
		row("log file", ws.LogFile)
	}
	return b.String()
}

// winJoin joins Windows path elements with backslashes.
func winJoin(elem ...string) string {
	out := strings.TrimRight(elem[0], `\/`)
	for _, e := range elem[1:] {
		out += `\` + strings.Trim(e, `\/`)
	}
	return out
}

// winCommandLine quotes arguments the way the SCM and CommandLineToArgvW
// read them back.
func winCommandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\"") {
			out[i] = a
			continue
		}
		var b strings.Builder
		b.WriteByte('"')
		slashes := 0
		for _, c := range a {
			switch c {
			case '\\':
				slashes++
				continue
			case '"':
				b.WriteString(strings.Repeat(`\`, 2*slashes+1))
			default:
				b.WriteString(strings.Repeat(`\`, slashes))
			}
			slashes = 0
			b.WriteRune(c)
		}
		b.WriteString(strings.Repeat(`\`, 2*slashes))
		b.WriteByte('"')
		out[i] = b.String()
	}
	return strings.Join(out, " ")
}

// quoteImagePath quotes the executable path at the start of a service's
// command line (its ImagePath) when it holds a space and is not quoted:
// the SCM reads `C:\Program Files\signagent\signagent.exe run` by trying
// C:\Program.exe first, a known privilege escalation. Some installers
// register that form (Wine's Windows Installer does, for the MSI's
// ServiceInstall); Install rewrites it. The path ends at the first ".exe"
// followed by a space or the end. ok is false when the line needs nothing.
func quoteImagePath(cmdline string) (quoted string, ok bool) {
	if strings.HasPrefix(strings.TrimLeft(cmdline, " \t"), `"`) {
		return cmdline, false
	}
	lower := strings.ToLower(cmdline)
	for i := 0; ; {
		j := strings.Index(lower[i:], ".exe")
		if j < 0 {
			return cmdline, false
		}
		end := i + j + len(".exe")
		if end == len(cmdline) || cmdline[end] == ' ' || cmdline[end] == '\t' {
			exe := strings.TrimLeft(cmdline[:end], " \t")
			if !strings.ContainsAny(exe, " \t") {
				return cmdline, false
			}
			return `"` + exe + `"` + cmdline[end:], true
		}
		i = end
	}
}

// driveKind is what the OS says about a drive letter.
type driveKind int

const (
	driveUnknown driveKind = iota // cannot tell (not on Windows)
	driveLocal
	driveRemote  // a mapped network drive
	driveMissing // no such drive, as seen by this session
)

// CheckWindowsPath reports whether a service can use p as a folder: it
// must be absolute, either a UNC path (\\server\share\...) or on a local
// drive. Mapped drive letters are rejected: a service does not see the
// drive mappings of a logged-in user. On Windows the drive type is asked of
// the OS; elsewhere only the syntax is checked.
func CheckWindowsPath(p string) error {
	return checkWindowsPath(p, driveTypeOf)
}

func checkWindowsPath(p string, driveType func(letter byte) driveKind) error {
	if p == "" {
		return signagent.ConfigError("empty folder path", "give the full path of the folder", nil)
	}
	norm := strings.ReplaceAll(p, "/", `\`)
	switch {
	case strings.HasPrefix(norm, `\\?\UNC\`):
		return checkUNC(p, norm[len(`\\?\UNC\`):])
	case strings.HasPrefix(norm, `\\?\`):
		return checkWindowsPath(norm[len(`\\?\`):], driveType)
	case strings.HasPrefix(norm, `\\.\`):
		return signagent.ConfigError(fmt.Sprintf("%q is a device path, not a folder", p), "give a folder path such as D:\\erp\\export or \\\\server\\share\\export", nil)
	case strings.HasPrefix(norm, `\\`):
		return checkUNC(p, norm[2:])
	}
	if len(norm) < 2 || norm[1] != ':' || !isLetter(norm[0]) {
		return signagent.ConfigError(fmt.Sprintf("%q is not an absolute Windows path", p),
			"give the full path, such as D:\\erp\\export or \\\\server\\share\\export", nil)
	}
	if len(norm) == 2 || norm[2] != '\\' {
		return signagent.ConfigError(fmt.Sprintf("%q is relative to the current directory of drive %s", p, norm[:2]),
			fmt.Sprintf("write it as %s\\%s", norm[:2], norm[2:]), nil)
	}
	letter := upper(norm[0])
	switch driveType(letter) {
	case driveRemote:
		return signagent.ConfigError(fmt.Sprintf("%q is on the mapped network drive %c:, which a service does not see", p, letter),
			fmt.Sprintf("use the share's UNC path instead (\\\\server\\share\\...; `net use %c:` shows it)", letter), nil)
	case driveMissing:
		return signagent.ConfigError(fmt.Sprintf("%q is on drive %c:, which does not exist for services (a drive mapped in a user's session?)", p, letter),
			"use a local drive, or the share's UNC path (\\\\server\\share\\...)", nil)
	}
	return nil
}

func checkUNC(p, rest string) error {
	parts := strings.Split(rest, `\`)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return signagent.ConfigError(fmt.Sprintf("%q is not a complete UNC path", p), "write it as \\\\server\\share\\folder", nil)
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// winIsAbs is filepath.IsAbs for Windows paths, on any OS.
//
//lint:ignore U1000 used by the Windows build (install_windows.go)
func winIsAbs(p string) bool {
	norm := strings.ReplaceAll(p, "/", `\`)
	if strings.HasPrefix(norm, `\\`) {
		return true
	}
	return len(norm) >= 3 && isLetter(norm[0]) && norm[1] == ':' && norm[2] == '\\'
}
