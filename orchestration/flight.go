package orchestration

import (
	"context"
	"sync"
)

// flights coalesces identical concurrent reads: the first caller of a key
// (the leader) makes the call in its own goroutine, under its own context;
// the others wait for its answer, or for their own context to end. When the
// leader gave up (its context ended) the waiters whose contexts are still
// live do not take its cancellation for an answer: one of them calls again.
// Unlike singleflight.DoChan, the common case starts no goroutine.
type flights struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	v       any
	err     error
	gaveUp  bool // the leader's context ended during the call
	waiters int  // callers that waited for this call (for tests)
}

// do returns fn's answer for key, made once for all concurrent callers.
func (f *flights) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	for {
		f.mu.Lock()
		if c, ok := f.calls[key]; ok {
			c.waiters++
			f.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if c.gaveUp && ctx.Err() == nil {
				continue
			}
			return c.v, c.err
		}
		if f.calls == nil {
			f.calls = map[string]*flightCall{}
		}
		c := &flightCall{done: make(chan struct{})}
		f.calls[key] = c
		f.mu.Unlock()
		f.lead(ctx, key, c, fn)
		return c.v, c.err
	}
}

// lead makes c's call and hands its answer to the waiters, even if fn
// panics (the panic goes on up the leader's stack).
func (f *flights) lead(ctx context.Context, key string, c *flightCall, fn func(context.Context) (any, error)) {
	c.gaveUp = true // until fn returns
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.v, c.err = fn(ctx)
	c.gaveUp = ctx.Err() != nil
}
