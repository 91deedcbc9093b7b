package orchestration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/partition"
)

// Policy says how one call behaves. The zero value is an optional call with
// no timeout of its own (only the composite's deadline), no retry, no cache
// and no hedging.
type Policy struct {
	// Required calls fail the composite when they fail; optional ones leave
	// their part null and mark the answer partial.
	Required bool
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Retries is how many more attempts a failed read may make, with
	// jittered exponential backoff, while the service's retry budget allows.
	// Calls with effects are never retried.
	Retries int
	// CacheTTL keeps a read's answer fresh that long (reads with a key only).
	CacheTTL time.Duration
	// StaleTTL keeps it that much longer to serve, marked "cached", when the
	// service fails (stale-if-error).
	StaleTTL time.Duration
	// Hedge sends a second attempt, to another instance, when the first has
	// not answered within the call's recent p95 latency; the first answer
	// wins. Reads only.
	Hedge bool
}

// RuntimeConfig tunes a Runtime. Zero fields take the defaults in brackets.
type RuntimeConfig struct {
	// BreakerFailures consecutive failures open a service's breaker [5].
	BreakerFailures uint32
	// BreakerCooldown is how long a breaker stays open before it lets a few
	// probe calls through (half-open) [5s].
	BreakerCooldown time.Duration
	// RetryBudget caps retries per service, gRPC-style: a failure costs a
	// token, a success earns RetryRatio of one, and retries are allowed
	// while more than half of RetryBudget tokens are left [10, 0.1].
	RetryBudget float64
	RetryRatio  float64
	// InProcess, when set, wraps every attempt of a call to a service; it
	// must call call (or fail instead). A monolith injects its faults and
	// traces its services here, at the in-process call boundary.
	InProcess func(ctx context.Context, service string, call func(context.Context) error) error
	// Tracer traces composites and calls. If nil, nothing is traced.
	Tracer trace.Tracer
	// Meter measures calls, the cache, breakers and retry budgets. If nil,
	// nothing is measured.
	Meter metric.Meter
	// UndoFor bounds the retries of one compensating call [10s].
	UndoFor time.Duration
	// Services, when not nil, are the only services a step may call: a plan
	// or saga naming another fails when it is built, rather than quietly
	// getting a breaker of its own.
	Services []string
}

// Runtime holds what calls to the same service share across composites and
// requests: a circuit breaker and a retry budget per service, the response
// cache, the in-flight reads to coalesce, and latency for hedging. It is
// safe for concurrent use.
type Runtime struct {
	cfg     RuntimeConfig
	cache   *gocache.Cache
	tags    tags // what the cached values hold, for Invalidate
	flights flights
	workers workers // the goroutines that run plans' steps

	ins instruments

	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[struct{}]
	budgets  map[string]*budget
	latency  map[string]*latencies
}

// NewRuntime returns a Runtime. It panics if the Meter refuses its
// instruments, a programming error.
func NewRuntime(cfg RuntimeConfig) *Runtime {
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.BreakerCooldown == 0 {
		cfg.BreakerCooldown = 5 * time.Second
	}
	if cfg.RetryBudget == 0 {
		cfg.RetryBudget = 10
	}
	if cfg.RetryRatio == 0 {
		cfg.RetryRatio = 0.1
	}
	if cfg.UndoFor == 0 {
		cfg.UndoFor = 10 * time.Second
	}
	rt := &Runtime{
		cfg:      cfg,
		cache:    gocache.New(gocache.NoExpiration, time.Minute),
		breakers: map[string]*gobreaker.CircuitBreaker[struct{}]{},
		budgets:  map[string]*budget{},
		latency:  map[string]*latencies{},
	}
	rt.cache.OnEvicted(func(key string, _ any) { rt.tags.forget(key) })
	if err := rt.instrument(); err != nil {
		panic(fmt.Sprintf("orchestration: instruments: %v", err))
	}
	return rt
}

// known returns an error for a service the runtime does not know.
func (rt *Runtime) known(service string) error {
	if rt.cfg.Services != nil && !slices.Contains(rt.cfg.Services, service) {
		return fmt.Errorf("no service named %q; known: %v", service, rt.cfg.Services)
	}
	return nil
}

// BreakerState returns the state of a service's breaker: "closed", "open"
// or "half-open".
func (rt *Runtime) BreakerState(service string) string {
	return rt.breaker(service).State().String()
}

// Heal gives service a new, closed breaker with no failures counted: for
// a service that has a new instance, which the old one's failures say
// nothing of. The calls that follow go through at once instead of waiting
// out the cooldown, and calls still in flight to the old instance count
// against the old breaker, not the new one (so a breaker a few failures
// short of opening is replaced too); if the new instance fails as well,
// the breaker opens again.
func (rt *Runtime) Heal(service string) {
	rt.mu.Lock()
	delete(rt.breakers, service)
	rt.mu.Unlock()
}

// halfOpenProbes is how many calls a half-open breaker lets through; it
// closes when they all succeed. More than one, so that a composite that calls
// a service twice at once (rating and reviews) is not partial on recovery.
const halfOpenProbes = 3

func (rt *Runtime) breaker(service string) *gobreaker.CircuitBreaker[struct{}] {
	return lazy(&rt.mu, rt.breakers, service, func() *gobreaker.CircuitBreaker[struct{}] {
		failures := rt.cfg.BreakerFailures
		return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        service,
			MaxRequests: halfOpenProbes,
			Timeout:     rt.cfg.BreakerCooldown,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			// An answer (a 404, a declined payment) is not a failure of the
			// service, and a call its caller abandoned says nothing of it.
			// Nor is one partition that did not answer: the others serve
			// their keys, and its own keys fail fast without it (its
			// instances are out of the balancer's pool).
			IsExcluded: func(err error) bool {
				if err == nil {
					return false
				}
				var down *partition.UnavailableError
				return domain.Is(err) || errors.Is(err, context.Canceled) || errors.As(err, &down)
			},
		})
	})
}

func (rt *Runtime) budget(service string) *budget {
	return lazy(&rt.mu, rt.budgets, service, func() *budget {
		return &budget{tokens: rt.cfg.RetryBudget, max: rt.cfg.RetryBudget, ratio: rt.cfg.RetryRatio}
	})
}

func (rt *Runtime) latencies(call string) *latencies {
	return lazy(&rt.mu, rt.latency, call, func() *latencies { return new(latencies) })
}

// lazy returns m[key], made by mk the first time it is asked for; mu
// guards m.
func lazy[V any](mu *sync.Mutex, m map[string]V, key string, mk func() V) V {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[key]
	if !ok {
		v = mk()
		m[key] = v
	}
	return v
}

// budget is a retry budget (gRPC's retry throttling): retries stop once
// failures have eaten half the tokens, and come back as successes refill it.
type budget struct {
	mu                 sync.Mutex
	tokens, max, ratio float64
}

func (b *budget) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.tokens = min(b.max, b.tokens+b.ratio)
	} else {
		b.tokens = max(0, b.tokens-1)
	}
}

func (b *budget) allowRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}

// execute runs fn against service under p: breaker, attempts with timeout,
// retries for reads, hedging. It returns the value of the attempt that
// succeeded and reports the outcome as a Source.
func (rt *Runtime) execute(ctx context.Context, service string, call string, p Policy, read bool, fn func(context.Context) (any, error)) (any, Source, error) {
	start := time.Now()
	src := Source{Status: StatusOK, Instance: InProcess}
	cb, bud := rt.breaker(service), rt.budget(service)
	var (
		v   any
		err error
	)
	for attempt := 1; ; attempt++ {
		var r result
		_, err = cb.Execute(func() (struct{}, error) {
			r = rt.attempt(ctx, service, call, p, read, fn)
			return struct{}{}, r.err
		})
		v = r.v
		instance, tries := r.inst, r.sent
		src.Attempts += max(tries, 1)
		if instance != "" {
			src.Instance = instance
		}
		if err == nil || domain.Is(err) {
			bud.record(true)
			break
		}
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			break
		}
		bud.record(false)
		if !read || attempt > p.Retries || ctx.Err() != nil || !bud.allowRetry() {
			break
		}
		if !sleep(ctx, backoff(attempt)) {
			break
		}
	}
	src.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		src.Status = classify(ctx, err)
		src.Error = err.Error()
	}
	return v, src, err
}

// result is the outcome of an attempt: the value, the instance that gave
// it, and how many requests the attempt sent.
type result struct {
	v    any
	inst string
	sent int
	err  error
}

// attempt makes one attempt, hedged when the policy says so.
func (rt *Runtime) attempt(ctx context.Context, service, call string, p Policy, read bool, fn func(context.Context) (any, error)) result {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = withTimeout(ctx, p.Timeout)
		defer cancel()
	}
	if !p.Hedge || !read {
		start := time.Now()
		r := rt.once(ctx, service, fn)
		if r.err == nil {
			rt.latencies(call).add(time.Since(start))
		}
		return r
	}
	return rt.hedged(ctx, call, func(ctx context.Context) result { return rt.once(ctx, service, fn) })
}

// once sends one request of an attempt.
func (rt *Runtime) once(ctx context.Context, service string, fn func(context.Context) (any, error)) result {
	if rt.cfg.InProcess != nil { // no transport to name an instance
		var v any
		err := rt.cfg.InProcess(ctx, service, func(ctx context.Context) (err error) {
			v, err = fn(ctx)
			return err
		})
		return result{v: v, sent: 1, err: err}
	}
	ctx, rec := hop.WithRecord(ctx)
	v, err := fn(ctx)
	return result{v: v, inst: rec.Instance(), sent: 1, err: err}
}

// hedged sends a first request and, if it has not answered within the
// call's p95 latency, a second one; the first success wins and cancels the
// other.
func (rt *Runtime) hedged(ctx context.Context, call string, once func(context.Context) result) result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, 2)
	lat := rt.latencies(call)
	start := time.Now()
	send := func() {
		r := once(ctx)
		if r.err == nil {
			lat.add(time.Since(start))
		}
		results <- r
	}
	go send()
	sent := 1
	timer := time.NewTimer(lat.p95())
	defer timer.Stop()
	var last result
	for received := 0; received < sent; {
		select {
		case <-timer.C:
			if sent == 1 {
				sent++
				go send()
			}
		case r := <-results:
			received++
			if r.err == nil {
				r.sent = sent
				return r
			}
			last = r
		}
	}
	last.sent = sent
	return last
}

// inProcess runs call through the InProcess hook, if any.
func (rt *Runtime) inProcess(ctx context.Context, service string, call func(context.Context) error) error {
	if rt.cfg.InProcess == nil {
		return call(ctx)
	}
	return rt.cfg.InProcess(ctx, service, call)
}

// backoff is full-jitter exponential backoff: up to 10ms, 20ms, 40ms ... 200ms.
func backoff(attempt int) time.Duration {
	ceiling := min(10*time.Millisecond<<(attempt-1), 200*time.Millisecond)
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// latencies keeps a call's recent successful latencies for hedging.
type latencies struct {
	mu   sync.Mutex
	ring [128]time.Duration
	n    int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
}

// p95 is the 95th percentile of the recent latencies; 50ms until there are
// 20 of them, and never below 1ms.
func (l *latencies) p95() time.Duration {
	l.mu.Lock()
	n := min(l.n, len(l.ring))
	if n < 20 {
		l.mu.Unlock()
		return 50 * time.Millisecond
	}
	sample := make([]time.Duration, n)
	copy(sample, l.ring[:n])
	l.mu.Unlock()
	slices.Sort(sample)
	return max(sample[n*95/100], time.Millisecond)
}

// Compensate runs an idempotent compensating call to service until it
// succeeds, for up to UndoFor, outside any request's deadline. It skips
// the breaker: undoing work must be tried even while a service is failing.
// A domain error (already undone, not found) counts as done.
func (rt *Runtime) Compensate(service string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), rt.cfg.UndoFor)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		err = rt.inProcess(actx, service, fn)
		acancel()
		if err == nil || domain.Is(err) {
			return nil
		}
		if !sleep(ctx, backoff(min(attempt, 5))) {
			return err
		}
	}
}
