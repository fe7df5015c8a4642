package statemachine

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the interpreter's only source of time: Wait states, Retry
// backoff, Task TimeoutSeconds/HeartbeatSeconds, the execution's
// TimeoutSeconds and every timestamp in the history and context object go
// through it. A nil Clock in Machine means real time.
type Clock interface {
	Now() time.Time
	// Sleep waits for d to pass or for ctx to end, whichever is first, and
	// returns ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
	// AfterFunc calls f once d has passed (RealClock: in its own
	// goroutine; VirtualClock: inside the Sleep or Advance that passes the
	// time); stop prevents the call if it has not happened yet.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// RealClock is wall-clock time.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (RealClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// VirtualClock is a clock for tests and simulations on which time passes
// only when someone sleeps: Sleep(d) moves the clock forward by d at once
// and fires every AfterFunc that falls due. Waits, retry backoff and task
// timeouts therefore cost no real time, and the history still shows the
// times the service would record. A task handler can stand for a slow call
// by sleeping on the same clock, which fires the task's timeout if the
// sleep outlasts it.
type VirtualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*virtualTimer
	slept  time.Duration
}

type virtualTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

// NewVirtualClock starts a virtual clock at start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Slept is the total virtual time all Sleep calls have asked for.
func (c *VirtualClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
		c.mu.Lock()
		c.slept += d
		c.mu.Unlock()
	}
	return ctx.Err()
}

// Advance moves the clock forward by d and runs the timers that fall due,
// in time order, before it returns.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, keep []*virtualTimer
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

func (c *VirtualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &virtualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		for i, x := range c.timers {
			if x == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return was
			}
		}
		return false
	}
}
