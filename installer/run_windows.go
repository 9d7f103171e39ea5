//go:build windows

package installer

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// runService runs under the Windows SCM with our own handler: kardianos's
// handler only ends on a stop request, so a run that fails by itself could
// not report a failure and trigger the recovery actions.
func runService(name string, run func(ctx context.Context) error, reload func(), budget time.Duration, log *slog.Logger) error {
	// Services start in System32; relative paths must not land there.
	if exe, err := os.Executable(); err == nil {
		_ = os.Chdir(filepath.Dir(exe))
	}
	h := &handler{run: run, reload: reload, budget: budget, log: log}
	if err := svc.Run(name, h); err != nil {
		return err
	}
	return h.err
}

type handler struct {
	run    func(ctx context.Context) error
	reload func() // on SERVICE_CONTROL_PARAMCHANGE; nil: not accepted
	budget time.Duration
	log    *slog.Logger
	err    error // set by Execute before it returns
}

// Execute answers Stop, Shutdown and Interrogate. It returns a
// service-specific exit code 1 when run fails, so the SCM applies the
// recovery actions (RecoveryOnNonCrashFailures).
func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	changes <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	running := svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	if h.reload != nil {
		running.Accepts |= svc.AcceptParamChange
	}
	changes <- running
	for {
		select {
		case err := <-done:
			h.err = unexpectedExit(err)
			changes <- svc.Status{State: svc.StopPending}
			if h.err != nil {
				h.log.Error("service failed", "err", h.err)
				return true, 1
			}
			return false, 0
		case c := <-r:
			switch c.Cmd {
			case svc.Interrogate:
				changes <- c.CurrentStatus
			case svc.ParamChange:
				if h.reload != nil {
					h.log.Info("reload requested by the service manager")
					h.reload()
				}
				changes <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				changes <- svc.Status{State: svc.StopPending, WaitHint: uint32(h.budget / time.Millisecond)}
				h.log.Info("stop requested", "budget", h.budget)
				cancel()
				t := time.NewTimer(h.budget)
				select {
				case err := <-done:
					t.Stop()
					h.err = stopResult(err)
				case <-t.C:
					h.err = errStopBudget
					h.log.Error("service did not stop in time", "budget", h.budget)
				}
				if h.err != nil {
					return true, 2
				}
				return false, 0
			}
		}
	}
}

// startedByServiceManager reports whether our parent process is the service
// control manager (services.exe). kardianos/service (through
// svc.IsWindowsService) also asks that the parent be in session 0, which
// holds on Windows but not under Wine, where the service would then run as
// a console program and the SCM would time out waiting for it to start.
func startedByServiceManager() bool {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return false
	}
	defer windows.CloseHandle(snap)
	self := uint32(os.Getpid())
	parent := uint32(0)
	procs := map[uint32]string{}
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		procs[e.ProcessID] = windows.UTF16ToString(e.ExeFile[:])
		if e.ProcessID == self {
			parent = e.ParentProcessID
		}
	}
	return parent != 0 && strings.EqualFold(procs[parent], "services.exe")
}
