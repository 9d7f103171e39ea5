package installer

import (
	"fmt"
	"path"
	"strings"

	"github.com/signagent/signagent"
)

// SystemdUnitDir is where Install writes the unit on Linux.
const SystemdUnitDir = "/etc/systemd/system"

// RenderSystemdUnit returns the exact systemd unit Install writes on Linux.
// It is a pure function of opts (Executable must then be set or is taken
// from the running process).
//
// The unit waits for the network and for the file systems holding every
// folder (RequiresMountsFor), restarts on failure, reports readiness with
// sd_notify (Type=notify: the agent must call NotifyReady after its first
// reconcile), runs sandboxed (read-only system, writable folders and data
// directory only, private /tmp, umask 027 so outputs are not
// world-readable), and is given TimeoutStopSec=15 for its graceful stop.
// /home is made read-only unless a folder or the data directory lives under
// it.
func RenderSystemdUnit(opts Options) (string, error) {
	o, err := opts.resolve(path.IsAbs)
	if err != nil {
		return "", err
	}
	for _, v := range append([]string{o.Executable, o.Config, o.DataDir, o.User}, o.Folders...) {
		if strings.ContainsAny(v, "\n\r\x00") {
			return "", signagent.ConfigError(fmt.Sprintf("%q contains a line break", v), "rename the path", nil)
		}
	}
	if strings.ContainsAny(o.User, " \"'\\%$") {
		return "", signagent.ConfigError(fmt.Sprintf("user name %q contains spaces or special characters", o.User), "give a plain account name", nil)
	}

	writable := o.folders()
	mounts := append([]string(nil), writable...)
	if o.DataDir != "" {
		mounts = append(mounts, o.DataDir)
	}
	protectHome, privateTmp := true, true
	for _, p := range mounts {
		if underHome(p) {
			protectHome = false
		}
		if underTmp(p) {
			privateTmp = false
		}
	}

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# %s service unit, written by `signagent install`.", o.name())
	line("# Re-run `signagent install` after changing folders instead of editing this file.")
	line("[Unit]")
	if o.name() == DefaultName {
		line("Description=signagent document signing agent")
	} else {
		line("Description=signagent document signing agent (%s)", o.name())
	}
	line("Wants=network-online.target")
	line("After=network-online.target remote-fs.target")
	if len(mounts) > 0 {
		line("RequiresMountsFor=%s", pathList(mounts, ""))
	}
	line("")
	line("[Service]")
	line("Type=notify")
	line("NotifyAccess=main")
	line("ExecStart=%s run --config %s", execQuote(o.Executable), execQuote(o.Config))
	// The agent validates the file first and keeps the old configuration
	// when the new one has problems (see signagent reload).
	line("ExecReload=/bin/kill -HUP $MAINPID")
	line("Restart=on-failure")
	line("RestartSec=10s")
	// The first reconcile of a large backlog comes before READY=1.
	line("TimeoutStartSec=5min")
	line("TimeoutStopSec=%d", int(StopBudget.Seconds()))
	if o.User != "" {
		line("User=%s", o.User)
	}
	line("UMask=0027")
	line("NoNewPrivileges=yes")
	line("ProtectSystem=strict")
	if protectHome {
		line("ProtectHome=read-only")
	}
	if privateTmp {
		line("PrivateTmp=yes")
	} else {
		// A private /tmp would hide the folders the producers write to.
		line("# PrivateTmp is off: a folder or the data directory lives under /tmp or /var/tmp,")
		line("# which the service would otherwise see empty. Move them to lasting places.")
	}
	line("ProtectKernelTunables=yes")
	line("ProtectKernelModules=yes")
	line("ProtectControlGroups=yes")
	line("RestrictSUIDSGID=yes")
	line("LockPersonality=yes")
	// The agent needs no privilege beyond its account's file access, no
	// devices, no namespaces and no sockets but IP and the notify socket.
	// Running as root (no User=) keeps its capabilities: root reads the
	// folders through them.
	if o.User != "" && o.User != "root" {
		line("CapabilityBoundingSet=")
		line("AmbientCapabilities=")
	}
	line("PrivateDevices=yes")
	line("ProtectClock=yes")
	line("ProtectHostname=yes")
	line("ProtectKernelLogs=yes")
	line("ProtectProc=invisible")
	line("ProcSubset=pid")
	line("RestrictNamespaces=yes")
	line("RestrictRealtime=yes")
	line("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
	line("MemoryDenyWriteExecute=yes")
	line("SystemCallArchitectures=native")
	// The calls of an ordinary service; anything else answers EPERM
	// instead of killing the agent mid-batch.
	line("SystemCallFilter=@system-service")
	line("SystemCallFilter=~@privileged")
	line("SystemCallErrorNumber=EPERM")
	// A missing folder ("-") must not keep the other folders from running:
	// the agent reports it. The data directory is created by Install.
	var rw []string
	if len(writable) > 0 {
		rw = append(rw, pathList(writable, "-"))
	}
	if o.DataDir != "" {
		rw = append(rw, pathList([]string{o.DataDir}, ""))
	}
	if len(rw) > 0 {
		line("ReadWritePaths=%s", strings.Join(rw, " "))
	}
	line("LimitNOFILE=65536")
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String(), nil
}

// underHome reports whether p lies where ProtectHome applies.
// underTmp reports whether p lives under a temporary directory that
// PrivateTmp replaces for the service.
func underTmp(p string) bool {
	p = path.Clean(p)
	for _, t := range []string{"/tmp", "/var/tmp"} {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

func underHome(p string) bool {
	p = path.Clean(p)
	for _, h := range []string{"/home", "/root", "/run/user"} {
		if p == h || strings.HasPrefix(p, h+"/") {
			return true
		}
	}
	return false
}

// pathList renders paths for a space-separated list directive, each with
// prefix, quoted only when it needs to be; '%' is escaped as a specifier.
func pathList(paths []string, prefix string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		p = strings.ReplaceAll(p, "%", "%%")
		if strings.ContainsAny(p, " \t\"'\\") {
			p = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
		}
		out[i] = prefix + p
	}
	return strings.Join(out, " ")
}

// execQuote quotes one ExecStart argument: backslash and double quote are
// escaped, '%' (specifiers) and '$' (variable expansion) are doubled.
func execQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`).Replace(s) + `"`
}
