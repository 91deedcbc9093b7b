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
// Unlike singleflight.DoChan, the common case starts no goroutine. The
// calls in flight are kept in shards by their key's hash, each under a lock
// of its own: with one lock, every call of every page at capacity queued
// on it (the engine's main contention in a mutex profile).
type flights struct {
	shards [flightShards]flightShard
	// free holds the records of calls that no one waited for, to use
	// again: most calls have no waiter.
	free sync.Pool
}

const flightShards = 64

type flightShard struct {
	mu    sync.Mutex
	calls map[flightKey]*flightCall
	_     [40]byte // a cache line each, so that the shards' locks do not share one
}

// flightKey names a read: its step, and the step's key of it. Two strings
// rather than one joined, which a read would allocate.
type flightKey struct{ step, key string }

// shard is k's shard (FNV-1a).
func (f *flights) shard(k flightKey) *flightShard {
	h := uint32(2166136261)
	for _, s := range [2]string{k.step, k.key} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
		h = (h ^ 0xff) * 16777619 // a separator: ("ab", "c") is not ("a", "bc")
	}
	return &f.shards[h%flightShards]
}

type flightCall struct {
	done    chan struct{} // closed when the call ends; nil until a caller waits (guarded by the shard)
	v       any
	src     Source // how the call went, for _meta
	err     error
	gaveUp  bool // the leader's context ended during the call
	waiters int  // callers that waited for this call (for tests)
}

// do returns fn's answer for key, made once for all concurrent callers.
func (f *flights) do(ctx context.Context, key flightKey, fn func(context.Context) (any, Source, error)) (any, Source, error) {
	sh := f.shard(key)
	for {
		sh.mu.Lock()
		if c, ok := sh.calls[key]; ok {
			c.waiters++
			if c.done == nil { // made by the first waiter: most calls have none
				c.done = make(chan struct{})
			}
			sh.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return nil, Source{}, ctx.Err()
			}
			if c.gaveUp && ctx.Err() == nil {
				continue
			}
			return c.v, c.src, c.err
		}
		if sh.calls == nil {
			sh.calls = map[flightKey]*flightCall{}
		}
		c, _ := f.free.Get().(*flightCall)
		if c == nil {
			c = new(flightCall)
		}
		sh.calls[key] = c
		sh.mu.Unlock()
		sh.lead(ctx, key, c, fn)
		v, src, err := c.v, c.src, c.err
		if c.done == nil { // no one waited, and no one can find it now: c is ours alone
			*c = flightCall{}
			f.free.Put(c)
		}
		return v, src, err
	}
}

// lead makes c's call and hands its answer to the waiters, even if fn
// panics (the panic goes on up the leader's stack).
func (sh *flightShard) lead(ctx context.Context, key flightKey, c *flightCall, fn func(context.Context) (any, Source, error)) {
	c.gaveUp = true // until fn returns
	defer func() {
		sh.mu.Lock()
		delete(sh.calls, key)
		done := c.done
		sh.mu.Unlock()
		if done != nil {
			close(done)
		}
	}()
	c.v, c.src, c.err = fn(ctx)
	c.gaveUp = ctx.Err() != nil
}
