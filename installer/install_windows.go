//go:build windows

package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/kardianos/service"
	"github.com/signagent/signagent"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

const elevatedHint = "re-run from an elevated prompt (Run as administrator)"

func prepare(opts Options) (platform, Options, error) {
	o, err := opts.resolve(winIsAbs)
	if err != nil {
		return nil, o, err
	}
	// Everything the service opens must be visible to it.
	paths := append([]string{o.Config}, o.folders()...)
	if o.DataDir != "" {
		paths = append(paths, o.DataDir)
	}
	for _, p := range paths {
		if err := CheckWindowsPath(p); err != nil {
			return nil, o, err
		}
	}
	return &scm{ws: WindowsSettings(o)}, o, nil
}

// scm registers the service with the service control manager, then applies
// the optional settings (description, delayed start, recovery actions for
// all three failure slots and for failures that are not crashes) one by
// one; kardianos/service starts, stops and removes it.
type scm struct{ ws WindowsService }

// noop satisfies service.Interface for install and control calls.
type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

func (s *scm) kardianos() (service.Service, error) {
	account := s.ws.Account
	if account == "LocalSystem" {
		account = ""
	}
	return service.New(noop{}, &service.Config{
		Name:        s.ws.Name,
		DisplayName: s.ws.DisplayName,
		Description: s.ws.Description,
		UserName:    account,
		Executable:  s.ws.Executable,
		Arguments:   s.ws.Arguments,
		Option: service.KeyValue{
			"StartType":              s.ws.StartType,
			"DelayedAutoStart":       s.ws.DelayedAutoStart,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": s.ws.Recovery[0].Delay.String(),
			"OnFailureResetPeriod":   int(s.ws.ResetPeriod.Seconds()),
		},
	})
}

func (s *scm) connect() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, adminError(elevatedHint, err)
		}
		return nil, fmt.Errorf("connect to the service control manager: %w", err)
	}
	return m, nil
}

func (s *scm) install(o Options) error {
	if o.DryRun {
		fmt.Fprintf(o.stdout(), "would register the Windows service:\n%s", s.ws)
		if o.DataDir != "" {
			fmt.Fprintf(o.stdout(), "would create %s\n", o.DataDir)
		}
		return nil
	}
	m, err := s.connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if err := makeWinDirs(o); err != nil {
		return err
	}
	if existing, err := m.OpenService(s.ws.Name); err == nil {
		defer existing.Close()
		if err := s.quoteExisting(o, existing); err != nil {
			return err
		}
		if err := s.applyOptional(o, existing); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout(), "already installed: service %s\n", s.ws.Name)
		fmt.Fprintf(o.stderr(), "hint: to change its command line or account, uninstall then install again\n")
		return nil
	}
	account := s.ws.Account
	if account == "LocalSystem" {
		account = ""
	}
	password, err := o.password()
	if err != nil {
		return err
	}
	created, err := m.CreateService(s.ws.Name, s.ws.Executable, mgr.Config{
		DisplayName:      s.ws.DisplayName,
		StartType:        mgr.StartAutomatic,
		ServiceStartName: account,
		Password:         password,
	}, s.ws.Arguments...)
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return adminError(elevatedHint, err)
		}
		if account != "" && password == "" && !strings.HasSuffix(account, "$") {
			return signagent.ConfigError(fmt.Sprintf("install service %s as %s", s.ws.Name, account),
				"a domain or local account needs its password: give --password-file; a gMSA (DOMAIN\\name$) takes none", err)
		}
		return fmt.Errorf("install service %s: %w", s.ws.Name, err)
	}
	defer created.Close()
	if err := s.applyOptional(o, created); err != nil {
		created.Delete()
		return err
	}
	// Without its source the Event Log shows our entries with a "description
	// cannot be found" preamble; the log file has every line anyway.
	if err := eventlog.InstallAsEventCreate(s.ws.EventSource, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil &&
		!strings.Contains(err.Error(), "exists") {
		fmt.Fprintf(o.stderr(), "warning: could not register the Event Log source %s: %v\n", s.ws.EventSource, err)
	}
	fmt.Fprintf(o.stdout(), "installed service %s\n", s.ws.Name)
	fmt.Fprintf(o.stderr(), "hint: start it with: signagent start --config %s\n", o.Config)
	return nil
}

// quoteExisting quotes the executable path of a registered service whose
// command line leaves it unquoted (see quoteImagePath); only the path
// changes. CreateService (through syscall.EscapeArg) always quotes it.
func (s *scm) quoteExisting(o Options, h *mgr.Service) error {
	line, err := imagePath(h.Handle)
	if err != nil {
		return fmt.Errorf("read the command line of service %s: %w", s.ws.Name, err)
	}
	fixed, ok := quoteImagePath(line)
	if !ok {
		return nil
	}
	p, err := windows.UTF16PtrFromString(fixed)
	if err != nil {
		return err
	}
	const same = windows.SERVICE_NO_CHANGE
	if err := windows.ChangeServiceConfig(h.Handle, same, same, same, p, nil, nil, nil, nil, nil, nil); err != nil {
		return fmt.Errorf("quote the executable path of service %s: %w", s.ws.Name, err)
	}
	fmt.Fprintf(o.stdout(), "service %s: quoted its executable path: %s\n", s.ws.Name, fixed)
	return nil
}

// imagePath is a service's command line. It asks QueryServiceConfig only:
// mgr.Service.Config also asks for optional settings, which Wine lacks.
func imagePath(h windows.Handle) (string, error) {
	b := make([]byte, 1024)
	for {
		var need uint32
		p := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(h, p, uint32(len(b)), &need)
		if err == nil {
			return windows.UTF16PtrToString(p.BinaryPathName), nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || need <= uint32(len(b)) {
			return "", err
		}
		b = make([]byte, need)
	}
}

// optionalSetting is one ChangeServiceConfig2 setting: the service runs
// without it, so a system that lacks the info level (Wine has no
// SERVICE_CONFIG_DELAYED_AUTO_START_INFO nor
// SERVICE_CONFIG_FAILURE_ACTIONS_FLAG) gets a warning, not a failed install.
type optionalSetting struct {
	what, level, without string
	apply                func(*mgr.Service) error
}

func (s *scm) optional() []optionalSetting {
	actions := make([]mgr.RecoveryAction, len(s.ws.Recovery))
	for i, r := range s.ws.Recovery {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: r.Delay}
	}
	return []optionalSetting{
		{"description", "SERVICE_CONFIG_DESCRIPTION", "the service list shows no description", func(h *mgr.Service) error {
			return changeConfig2(h, windows.SERVICE_CONFIG_DESCRIPTION, &windows.SERVICE_DESCRIPTION{Description: utf16(s.ws.Description)})
		}},
		{"delayed automatic start", "SERVICE_CONFIG_DELAYED_AUTO_START_INFO", "the service starts with the others at boot, perhaps before the network and shares", func(h *mgr.Service) error {
			var d windows.SERVICE_DELAYED_AUTO_START_INFO
			if s.ws.DelayedAutoStart {
				d.IsDelayedAutoStartUp = 1
			}
			return changeConfig2(h, windows.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &d)
		}},
		{"recovery actions (restart after a failure)", "SERVICE_CONFIG_FAILURE_ACTIONS", "the service is not restarted when it fails", func(h *mgr.Service) error {
			return h.SetRecoveryActions(actions, uint32(s.ws.ResetPeriod.Seconds()))
		}},
		{"recovery on error exits", "SERVICE_CONFIG_FAILURE_ACTIONS_FLAG", "the service is restarted after a crash, but not when it stops itself with an error", func(h *mgr.Service) error {
			return h.SetRecoveryActionsOnNonCrashFailures(s.ws.RecoveryOnNonCrashFailures)
		}},
	}
}

// applyOptional applies every optional setting it can and says which ones
// this system does not support; any other failure is an error.
func (s *scm) applyOptional(o Options, h *mgr.Service) error {
	for _, set := range s.optional() {
		err := set.apply(h)
		if err == nil {
			continue
		}
		if !levelUnsupported(err) {
			return fmt.Errorf("set %s of service %s: %w", set.what, s.ws.Name, err)
		}
		fmt.Fprintf(o.stderr(), "warning: service %s installed without its %s: this system lacks %s (%v); %s\n",
			s.ws.Name, set.what, set.level, err, set.without)
	}
	return nil
}

// levelUnsupported reports the answers of a service manager that lacks a
// ChangeServiceConfig2 info level.
func levelUnsupported(err error) bool {
	return errors.Is(err, windows.ERROR_INVALID_LEVEL) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED)
}

func changeConfig2[T any](h *mgr.Service, level uint32, info *T) error {
	return windows.ChangeServiceConfig2(h.Handle, level, (*byte)(unsafe.Pointer(info)))
}

func utf16(s string) *uint16 {
	p, err := windows.UTF16PtrFromString(s)
	if err != nil {
		p, _ = windows.UTF16PtrFromString("")
	}
	return p
}

func makeWinDirs(o Options) error {
	if o.DataDir == "" {
		return nil
	}
	for _, d := range []string{o.DataDir, filepath.Join(o.DataDir, "logs")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

func (s *scm) uninstall(o Options) error {
	if o.DryRun {
		fmt.Fprintf(o.stdout(), "would stop and remove the Windows service %s and its event log source\n", s.ws.Name)
		return purge(o)
	}
	m, err := s.connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	existing, err := m.OpenService(s.ws.Name)
	if err != nil {
		fmt.Fprintf(o.stdout(), "not installed: service %s\n", s.ws.Name)
		return purge(o)
	}
	if st, err := existing.Query(); err == nil && st.State != svc.Stopped {
		if _, err := existing.Control(svc.Stop); err == nil {
			waitStopped(existing, StopBudget+5*time.Second)
		}
	}
	existing.Close()
	k, err := s.kardianos()
	if err != nil {
		return err
	}
	if err := k.Uninstall(); err != nil {
		return fmt.Errorf("uninstall service %s: %w", s.ws.Name, err)
	}
	fmt.Fprintf(o.stdout(), "uninstalled service %s\n", s.ws.Name)
	return purge(o)
}

func waitStopped(s *mgr.Service, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		st, err := s.Query()
		if err != nil || st.State == svc.Stopped {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *scm) control(o Options, action string) error {
	k, err := s.kardianos()
	if err != nil {
		return err
	}
	if _, err := k.Status(); errors.Is(err, service.ErrNotInstalled) {
		return notInstalledError(s.ws.Name)
	}
	if o.DryRun {
		fmt.Fprintf(o.stdout(), "would %s the Windows service %s\n", action, s.ws.Name)
		return nil
	}
	switch action {
	case "start":
		err = k.Start()
	case "stop":
		err = k.Stop()
	case "restart":
		err = k.Restart()
	default:
		return fmt.Errorf("unknown service action %q", action)
	}
	if action == "start" && errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		// Start is idempotent, like install: the service runs, as asked.
		fmt.Fprintf(o.stdout(), "already running: %s\n", s.ws.Name)
		return nil
	}
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return adminError(elevatedHint, err)
		}
		return fmt.Errorf("%s service %s: %w", action, s.ws.Name, err)
	}
	fmt.Fprintf(o.stdout(), "%s: %s\n", past(action), s.ws.Name)
	return nil
}
