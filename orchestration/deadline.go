package orchestration

import (
	"context"
	"sync"
	"time"
)

// withTimeout is context.WithTimeout for one attempt of a call, armed
// lazily: its timer and its channel are made only when the callee first
// asks for Done. A call over HTTP asks at once (the transport waits on
// it), so it costs what context.WithTimeout does; a call to a service in
// the same process that never waits on its context (a read from memory)
// costs one small allocation instead of four or five. Err, Deadline and
// context.Cause answer alike either way.
func withTimeout(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := parent.Deadline(); ok && !d.After(deadline) {
		// The parent ends first: a context of its own would change nothing
		// but what cancel cancels.
		return context.WithCancel(parent)
	}
	c := &lazyDeadline{Context: parent, deadline: deadline}
	return c, c.cancel
}

// lazyDeadline is a context with a deadline of its own, which becomes a
// context.WithDeadline (real) the first time Done is asked for.
type lazyDeadline struct {
	context.Context
	deadline time.Time

	mu       sync.Mutex
	real     context.Context // nil until Done
	stop     context.CancelFunc
	canceled bool
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real == nil {
		c.real, c.stop = context.WithDeadline(c.Context, c.deadline)
		if c.canceled {
			c.stop()
		}
	}
	return c.real.Done()
}

func (c *lazyDeadline) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.real != nil:
		return c.real.Err()
	case c.canceled:
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *lazyDeadline) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.canceled && c.real != nil {
		c.stop()
	}
	c.canceled = true
}
