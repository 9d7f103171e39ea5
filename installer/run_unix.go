//go:build !windows

package installer

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kardianos/service"
)

func runService(name string, run func(ctx context.Context) error, _ func(), budget time.Duration, log *slog.Logger) error {
	return runKardianos(name, run, budget, log, waitSignal)
}

// waitSignal blocks until SIGTERM or SIGINT, or until done is closed.
func waitSignal(done <-chan struct{}) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-done:
	}
}

// program adapts run to kardianos/service: Start launches run in a
// goroutine owned by program, Stop cancels it and waits within the budget.
type program struct {
	run    func(ctx context.Context) error
	budget time.Duration
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // run's result; read only after done is closed
}

func (p *program) Start(service.Service) error {
	go func() {
		defer close(p.done)
		p.err = p.run(p.ctx)
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	select {
	case <-p.done:
		// run returned before any stop request.
		p.cancel()
		return unexpectedExit(p.err)
	default:
	}
	p.log.Info("stop requested", "budget", p.budget)
	p.cancel()
	t := time.NewTimer(p.budget)
	defer t.Stop()
	select {
	case <-p.done:
		return stopResult(p.err)
	case <-t.C:
		p.log.Error("service did not stop in time", "budget", p.budget)
		return errStopBudget
	}
}

// runKardianos runs program under kardianos/service; wait blocks until the
// service must stop or until its argument is closed (run returned).
func runKardianos(name string, run func(ctx context.Context) error, budget time.Duration, log *slog.Logger, wait func(done <-chan struct{})) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &program{run: run, budget: budget, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	s, err := service.New(p, &service.Config{
		Name: name,
		Option: service.KeyValue{
			"RunWait": func() { wait(p.done) },
		},
	})
	if err != nil {
		return err
	}
	return s.Run()
}

// startedByServiceManager: kardianos/service's Interactive already knows
// systemd and launchd.
func startedByServiceManager() bool { return false }
