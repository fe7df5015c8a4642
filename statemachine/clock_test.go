package statemachine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// RealClock: AfterFunc fires, stop prevents a call, Sleep ends early with
// its context.
func TestRealClock(t *testing.T) {
	var c Clock = RealClock{}
	fired := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
	stop := c.AfterFunc(time.Hour, func() { t.Error("stopped timer fired") })
	if !stop() {
		t.Error("stop of a pending timer returned false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context: %v", err)
	}
	if err := c.Sleep(context.Background(), time.Microsecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
}

// VirtualClock: time moves only by Sleep/Advance, timers fire in order.
func TestVirtualClock(t *testing.T) {
	c := NewVirtualClock(testStart)
	var order []int
	c.AfterFunc(3*time.Second, func() { order = append(order, 3) })
	c.AfterFunc(time.Second, func() { order = append(order, 1) })
	stop := c.AfterFunc(2*time.Second, func() { order = append(order, 2) })
	stop()
	if err := c.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0] != 1 || order[1] != 3 {
		t.Errorf("timers fired %v, want [1 3]", order)
	}
	if got := c.Now().Sub(testStart); got != 5*time.Second || c.Slept() != 5*time.Second {
		t.Errorf("clock moved %s, slept %s, want 5s", got, c.Slept())
	}
}
