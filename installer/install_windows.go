//go:build windows

package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
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

// scm installs with kardianos/service (service, event log source) and then
// sets what it does not: recovery actions for all three failure slots and
// for failures that are not crashes.
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
		if err := s.applyRecovery(existing); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout(), "already installed: service %s\n", s.ws.Name)
		fmt.Fprintf(o.stderr(), "hint: to change its command line or account, uninstall then install again\n")
		return nil
	}
	k, err := s.kardianos()
	if err != nil {
		return err
	}
	if err := k.Install(); err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return adminError(elevatedHint, err)
		}
		return fmt.Errorf("install service %s: %w", s.ws.Name, err)
	}
	created, err := m.OpenService(s.ws.Name)
	if err != nil {
		return fmt.Errorf("open service %s after install: %w", s.ws.Name, err)
	}
	defer created.Close()
	if err := s.applyRecovery(created); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout(), "installed service %s\n", s.ws.Name)
	fmt.Fprintf(o.stderr(), "hint: start it with: signagent start --config %s\n", o.Config)
	return nil
}

func (s *scm) applyRecovery(svcH *mgr.Service) error {
	actions := make([]mgr.RecoveryAction, len(s.ws.Recovery))
	for i, r := range s.ws.Recovery {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: r.Delay}
	}
	if err := svcH.SetRecoveryActions(actions, uint32(s.ws.ResetPeriod.Seconds())); err != nil {
		return fmt.Errorf("set recovery actions of %s: %w", s.ws.Name, err)
	}
	if err := svcH.SetRecoveryActionsOnNonCrashFailures(s.ws.RecoveryOnNonCrashFailures); err != nil {
		return fmt.Errorf("set recovery on error exits of %s: %w", s.ws.Name, err)
	}
	return nil
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
	if err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return adminError(elevatedHint, err)
		}
		return fmt.Errorf("%s service %s: %w", action, s.ws.Name, err)
	}
	fmt.Fprintf(o.stdout(), "%s: %s\n", past(action), s.ws.Name)
	return nil
}
