package agent_test

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// jumpClock is a fake clock for tests of the running agent: whenever
// something waits on it, it jumps to the earliest deadline. Backoff, holds,
// polls and requeues then take no wall time, while files, the watcher (on
// its own clock) and HTTP go at their own pace. It only moves forward, to
// deadlines someone waits for, and not at all while paused.
type jumpClock struct {
	*clockwork.FakeClock
	mu    sync.Mutex
	until map[*jumpTimer]time.Time // deadline of each timer that may be pending

	// step is held while the clock moves; paused, while set, stops it
	// (closed by resume).
	step   sync.Mutex
	paused chan struct{}
}

var _ clockwork.Clock = (*jumpClock)(nil)

type jumpTimer struct {
	clockwork.Timer
	c *jumpClock
}

func newJumpClock() *jumpClock {
	return &jumpClock{FakeClock: clockwork.NewFakeClock(), until: map[*jumpTimer]time.Time{}}
}

// note records t's deadline: read after the fake clock set it, so it is
// never earlier than the fake clock's own.
func (c *jumpClock) note(t *jumpTimer, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.until[t] = c.FakeClock.Now().Add(d)
}

func (c *jumpClock) forget(t *jumpTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.until, t)
}

func (c *jumpClock) NewTimer(d time.Duration) clockwork.Timer {
	t := &jumpTimer{Timer: c.FakeClock.NewTimer(d), c: c}
	c.note(t, d)
	return t
}

func (c *jumpClock) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	t := &jumpTimer{Timer: c.FakeClock.AfterFunc(d, f), c: c}
	c.note(t, d)
	return t
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).Chan() }

func (c *jumpClock) Sleep(d time.Duration) { <-c.After(d) }

func (t *jumpTimer) Reset(d time.Duration) bool {
	active := t.Timer.Reset(d)
	t.c.note(t, d)
	return active
}

func (t *jumpTimer) Stop() bool {
	active := t.Timer.Stop()
	t.c.forget(t)
	return active
}

// pause stops the clock: once it returns, the clock no longer moves (a
// jump under way has ended) until resume. A test pauses it to look at a
// wait while it lasts.
func (c *jumpClock) pause() {
	c.step.Lock()
	defer c.step.Unlock()
	if c.paused == nil {
		c.paused = make(chan struct{})
	}
}

// resume lets a paused clock jump again.
func (c *jumpClock) resume() {
	c.step.Lock()
	defer c.step.Unlock()
	if c.paused != nil {
		close(c.paused)
		c.paused = nil
	}
}

// next returns the earliest deadline still ahead that someone may wait
// for (zero if none): on a paused clock, the next thing due.
func (c *jumpClock) next() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.FakeClock.Now()
	var next time.Time
	for _, at := range c.until {
		if at.After(now) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// run jumps the clock until ctx ends: it blocks while nothing waits or
// while the clock is paused.
func (c *jumpClock) run(ctx context.Context) {
	for {
		if err := c.BlockUntilContext(ctx, 1); err != nil {
			return
		}
		c.step.Lock()
		if p := c.paused; p != nil {
			c.step.Unlock()
			select {
			case <-p:
			case <-ctx.Done():
				return
			}
			continue
		}
		c.mu.Lock()
		now := c.FakeClock.Now()
		var next time.Time
		for t, at := range c.until {
			if !at.After(now) {
				delete(c.until, t) // fired
			} else if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		c.mu.Unlock()
		if next.IsZero() {
			c.step.Unlock()
			runtime.Gosched() // a timer between its creation and its note
			continue
		}
		c.Advance(next.Sub(now))
		c.step.Unlock()
	}
}
