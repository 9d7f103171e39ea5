//go:build !windows

package installer

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestRunServiceStopAndFailure(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	stopNow := func(<-chan struct{}) {} // the manager asks to stop at once

	// A stop request cancels run's context; returning ctx.Err() is clean.
	var sawCancel bool
	err := runKardianos("signagent-test", func(ctx context.Context) error {
		<-ctx.Done()
		sawCancel = true
		return ctx.Err()
	}, 5*time.Second, log, stopNow)
	if err != nil || !sawCancel {
		t.Errorf("stop: err %v, cancelled %v", err, sawCancel)
	}

	// run failing by itself ends the service with its error.
	boom := errors.New("ledger: disk I/O error")
	err = runKardianos("signagent-test", func(ctx context.Context) error { return boom },
		5*time.Second, log, func(done <-chan struct{}) { <-done })
	if !errors.Is(err, boom) {
		t.Errorf("self failure: %v, want %v", err, boom)
	}

	// run ignoring the stop request is abandoned after the budget.
	release := make(chan struct{})
	defer close(release)
	err = runKardianos("signagent-test", func(ctx context.Context) error {
		<-release
		return nil
	}, 50*time.Millisecond, log, stopNow)
	if !errors.Is(err, errStopBudget) {
		t.Errorf("stuck run: %v, want the stop budget error", err)
	}
}
