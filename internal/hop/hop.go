// Package hop carries, through a request's context, a record of which
// instance answered a downstream call (the balancing transport writes it;
// the orchestration engine reads it into a composite's _meta; a context
// without a record makes Observe a no-op), and which route of a service
// served a request that reached it under a wildcard.
package hop

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ErrNoInstance reports a call to a service that has no live instance: a
// balancing transport's answer, which every caller may recognise.
var ErrNoInstance = errors.New("no live instance")

// TimeoutHeader carries a call's remaining deadline downstream, in
// milliseconds, so that the service gives up its work when its caller has.
const TimeoutHeader = "X-Atrium-Timeout-Ms"

// Budget returns the budget a caller propagated in h (TimeoutHeader), if
// it sent one that is a positive number.
func Budget(h http.Header) (time.Duration, bool) {
	asked := h.Get(TimeoutHeader)
	if asked == "" { // most requests: nothing to parse
		return 0, false
	}
	ms, err := strconv.ParseInt(asked, 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// SetBudget tells the service a request goes to that its caller waits d
// (at least a millisecond) for the answer.
func SetBudget(h http.Header, d time.Duration) {
	h[TimeoutHeader] = []string{strconv.FormatInt(max(d.Milliseconds(), 1), 10)}
}

type recordKey struct{}

// Record holds the id of the instance that last served a call.
type Record struct {
	mu       sync.Mutex // written by the transport, read by the engine
	instance string
}

// WithRecord returns a context that carries a fresh Record. The context
// and the record are one allocation: every downstream call makes one.
func WithRecord(ctx context.Context) (context.Context, *Record) {
	rc := &recordCtx{Context: ctx}
	return rc, &rc.rec
}

// recordCtx is a context that carries a Record.
type recordCtx struct {
	context.Context
	rec Record
}

func (c *recordCtx) Value(key any) any {
	if key == (recordKey{}) {
		return &c.rec
	}
	return c.Context.Value(key)
}

// Observe notes in the context's Record, if any, that instance served the call.
func Observe(ctx context.Context, instance string) {
	if r, ok := ctx.Value(recordKey{}).(*Record); ok {
		r.mu.Lock()
		r.instance = instance
		r.mu.Unlock()
	}
}

// Instance returns the observed instance id, or "" when none was observed
// (an in-process call).
func (r *Record) Instance() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.instance
}

type routeKey struct{}

// Routed returns ctx with room for the route that a handler mounted under
// a wildcard route (a service's own router, under its instance's /*)
// serves the request with: SetRoute notes it, and the server's telemetry
// names the request after it instead of the wildcard.
func Routed(ctx context.Context) context.Context {
	return context.WithValue(ctx, routeKey{}, new(string))
}

// SetRoute notes the route pattern ("/products/:id") that serves the
// request of ctx, if ctx was Routed.
func SetRoute(ctx context.Context, route string) {
	if r, ok := ctx.Value(routeKey{}).(*string); ok {
		*r = route
	}
}

// RouteOf returns the route SetRoute noted in ctx, or "".
func RouteOf(ctx context.Context) string {
	if r, ok := ctx.Value(routeKey{}).(*string); ok {
		return *r
	}
	return ""
}
