package installer

import (
	"encoding/xml"
	"fmt"
	"path"
	"strings"
)

// LaunchdDir is where Install writes the property list on macOS.
const LaunchdDir = "/Library/LaunchDaemons"

// RenderLaunchdPlist returns the exact launchd property list Install writes
// on macOS: a system daemon started at boot and restarted when it exits
// unsuccessfully, given StopBudget to stop, with umask 027 and its output in
// DataDir/logs.
func RenderLaunchdPlist(opts Options) (string, error) {
	o, err := opts.resolve(path.IsAbs)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	str := func(s string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(s))
		return "<string>" + e.String() + "</string>"
	}
	line(`<?xml version="1.0" encoding="UTF-8"?>`)
	line(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`)
	line(`<!-- %s launchd job, written by signagent install. -->`, o.name())
	line(`<plist version="1.0">`)
	line(`<dict>`)
	line(`	<key>Label</key>`)
	line(`	%s`, str(o.name()))
	line(`	<key>ProgramArguments</key>`)
	line(`	<array>`)
	for _, a := range []string{o.Executable, "run", "--config", o.Config} {
		line(`		%s`, str(a))
	}
	line(`	</array>`)
	if o.User != "" {
		line(`	<key>UserName</key>`)
		line(`	%s`, str(o.User))
	}
	line(`	<key>RunAtLoad</key>`)
	line(`	<true/>`)
	line(`	<key>KeepAlive</key>`)
	line(`	<dict>`)
	line(`		<key>SuccessfulExit</key>`)
	line(`		<false/>`)
	line(`	</dict>`)
	line(`	<key>ThrottleInterval</key>`)
	line(`	<integer>10</integer>`)
	line(`	<key>ExitTimeOut</key>`)
	line(`	<integer>%d</integer>`, int(StopBudget.Seconds()))
	line(`	<key>Umask</key>`)
	line(`	<integer>%d</integer>`, 0o027)
	if o.DataDir != "" {
		logFile := path.Join(o.DataDir, "logs", o.name()+".log")
		line(`	<key>WorkingDirectory</key>`)
		line(`	%s`, str(o.DataDir))
		line(`	<key>StandardOutPath</key>`)
		line(`	%s`, str(logFile))
		line(`	<key>StandardErrorPath</key>`)
		line(`	%s`, str(logFile))
	}
	line(`</dict>`)
	line(`</plist>`)
	return b.String(), nil
}
