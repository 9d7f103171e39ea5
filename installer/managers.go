package installer

import "path"

// systemdService drives a systemd unit in unitDir with systemctl.
func systemdService(o Options, unitDir, unit string, run func(...string) error, isAdmin func() bool) *fileService {
	name := o.name() + ".service"
	return &fileService{
		name:    o.name(),
		path:    path.Join(unitDir, name),
		content: unit,
		afterWrite: []command{
			{args: []string{"systemctl", "daemon-reload"}},
			{args: []string{"systemctl", "enable", name}},
		},
		beforeRemove: []command{{args: []string{"systemctl", "disable", "--now", name}, tolerate: true}},
		afterRemove:  []command{{args: []string{"systemctl", "daemon-reload"}}},
		start:        []command{{args: []string{"systemctl", "start", name}}},
		stop:         []command{{args: []string{"systemctl", "stop", name}}},
		restart:      []command{{args: []string{"systemctl", "restart", name}}},
		run:          run,
		isAdmin:      isAdmin,
		adminHint:    "re-run with sudo",
	}
}

// launchdService drives a launchd system daemon in plistDir with launchctl.
func launchdService(o Options, plistDir, plist string, run func(...string) error, isAdmin func() bool) *fileService {
	p := path.Join(plistDir, o.name()+".plist")
	target := "system/" + o.name()
	s := &fileService{
		name:         o.name(),
		path:         p,
		content:      plist,
		afterWrite:   []command{{args: []string{"launchctl", "enable", target}}},
		beforeRemove: []command{{args: []string{"launchctl", "bootout", target}, tolerate: true}},
		// bootstrap fails when the job is already loaded; kickstart then
		// starts it if it is not running.
		start: []command{
			{args: []string{"launchctl", "bootstrap", "system", p}, tolerate: true},
			{args: []string{"launchctl", "kickstart", target}},
		},
		// bootout unloads the job, so KeepAlive does not bring it back.
		stop:      []command{{args: []string{"launchctl", "bootout", target}}},
		restart:   []command{{args: []string{"launchctl", "kickstart", "-k", target}}},
		run:       run,
		isAdmin:   isAdmin,
		adminHint: "re-run with sudo",
	}
	if o.DataDir != "" {
		s.logDir = path.Join(o.DataDir, "logs")
	}
	return s
}
