// Package installer installs signagent as a system service and runs it
// under the service manager: a systemd unit on Linux, a launchd daemon on
// macOS, a Windows service with restart-on-failure recovery actions.
//
// Install, Uninstall, Start, Stop and Restart take the same Options on
// every OS. The files and settings they install are rendered by pure
// functions (RenderSystemdUnit, RenderLaunchdPlist, WindowsSettings) that
// behave the same on every OS, so they are reviewed with DryRun and tested
// anywhere. Install checks, acts and says the next step; it is safe to
// re-run and asks for administrator rights when it lacks them.
//
// On Linux and macOS the unit or property list is written by this package
// and driven with systemctl or launchctl; on Windows kardianos/service
// registers the service and event source, and this package adds recovery
// actions for every failure. RunService runs the agent when a service
// manager started it, NotifyReady and NotifyStopping speak sd_notify, and
// EventLogHandler and LogFile are the Windows service's log sinks. Nothing
// here reads the environment: cmd passes $NOTIFY_SOCKET and paths in.
package installer
