package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kardianos/service"
)

// Interactive reports whether the process was started by a user rather
// than by a service manager (systemd, launchd, the Windows SCM). When it
// returns false, cmd should hand control to RunService.
func Interactive() bool { return service.Interactive() && !startedByServiceManager() }

// RunService runs run under the service manager until the manager asks the
// service to stop or run returns by itself. On a stop request run's context
// is cancelled and RunService waits at most stopBudget for it to return;
// keep stopBudget below StopBudget so the manager does not kill the process
// first. A run that returns context.Canceled after a stop request counts as
// a clean stop (nil). A run that fails by itself makes RunService return
// its error, so that the process exits non-zero and the manager's
// restart-on-failure applies (on Windows the service reports a
// service-specific exit code, which the installed recovery actions cover).
// reload, if set, is called when the Windows service manager passes on a
// parameter change (SERVICE_CONTROL_PARAMCHANGE, sent by `signagent
// reload`); elsewhere SIGHUP reaches the process itself. log may be nil.
func RunService(name string, run func(ctx context.Context) error, reload func(), stopBudget time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if name == "" {
		name = DefaultName
	}
	return runService(name, run, reload, stopBudget, log)
}

// errStopBudget is returned when run outlives the stop budget.
var errStopBudget = errors.New("did not stop within the stop budget")

// stopResult turns run's result after a stop request into RunService's.
func stopResult(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// unexpectedExit describes a run that returned without a stop request.
func unexpectedExit(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("service stopped by itself: %w", err)
}
