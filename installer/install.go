package installer

// platform installs and controls the service on one OS. install_*.go each
// provide newPlatform.
type platform interface {
	install(o Options) error
	uninstall(o Options) error
	control(o Options, action string) error
}

// Install registers the service with the OS service manager (systemd,
// launchd or the Windows SCM) so that it starts at boot. It does not start
// it. It is safe to re-run: an identical installation prints "already
// installed", a changed one is updated. Without administrator rights it
// returns an error saying how to get them. With DryRun it prints what it
// would install and changes nothing.
func Install(opts Options) error {
	p, o, err := prepare(opts)
	if err != nil {
		return err
	}
	return p.install(o)
}

// Uninstall stops and removes the service. The data directory (ledger,
// keys, logs) is kept unless Purge is set; a data directory overlapping a
// watched folder is never purged. Uninstalling a service that is not
// installed prints "not installed" and succeeds.
func Uninstall(opts Options) error {
	p, o, err := prepare(opts)
	if err != nil {
		return err
	}
	return p.uninstall(o)
}

// Start asks the service manager to start the installed service.
func Start(opts Options) error { return control(opts, "start") }

// Stop asks the service manager to stop the service and waits for it.
func Stop(opts Options) error { return control(opts, "stop") }

// Restart stops and starts the service.
func Restart(opts Options) error { return control(opts, "restart") }

func control(opts Options, action string) error {
	p, o, err := prepare(opts)
	if err != nil {
		return err
	}
	return p.control(o, action)
}
