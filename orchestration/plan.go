package orchestration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Step is one call of a composite over state S: a Fetch or a Do.
type Step[S any] interface {
	node(rt *Runtime) node[S]
}

type node[S any] struct {
	name     string
	service  string
	required bool
	after    []string
	run      func(ctx context.Context, s *S) (Source, error)
}

// Fetch is a read of a T from a service, stored into the composite's state
// S. Reads may be retried, cached, coalesced and hedged as Policy says.
type Fetch[S, T any] struct {
	// Name names the source in _meta and Server-Timing.
	Name string
	// Service is the downstream service: its breaker and retry budget.
	Service string
	// After lists the steps whose results Get needs; the fetch starts when
	// they have finished, and is skipped when one of them failed.
	After  []string
	Policy Policy
	// Key identifies the read for the cache and for coalescing identical
	// concurrent reads. Nil means neither.
	Key func(s *S) string
	// Tags name what a cached value holds (the products whose data it
	// carries): Runtime.Invalidate of any of them drops it. Nil: none.
	Tags func(v T) []string
	// Get reads the value. It must honour ctx.
	Get func(ctx context.Context, s *S) (T, error)
	// Set stores the value into the state.
	Set func(s *S, v T)
}

// Do is a call with effects: never retried, cached, coalesced or hedged.
type Do[S any] struct {
	Name    string
	Service string
	After   []string
	Policy  Policy
	// Run makes the call and stores its result into the state.
	Run func(ctx context.Context, s *S) error
}

func (d Do[S]) node(rt *Runtime) node[S] {
	return node[S]{name: d.Name, service: d.Service, required: d.Policy.Required, after: d.After,
		run: func(ctx context.Context, s *S) (Source, error) {
			_, src, err := rt.execute(ctx, d.Service, d.Name, d.Policy, false, func(ctx context.Context) (any, error) { return nil, d.Run(ctx, s) })
			return src, err
		}}
}

// cached is a cache entry: the value and until when it is fresh.
type cached struct {
	v     any
	fresh time.Time
}

func (f Fetch[S, T]) node(rt *Runtime) node[S] {
	// read returns the value as execute has it, boxed: unboxed only where
	// it is stored, so that it is boxed once.
	read := func(ctx context.Context, s *S) (any, Source, error) {
		return rt.execute(ctx, f.Service, f.Name, f.Policy, true, func(ctx context.Context) (any, error) {
			return f.Get(ctx, s)
		})
	}
	return node[S]{name: f.Name, service: f.Service, required: f.Policy.Required, after: f.After,
		run: func(ctx context.Context, s *S) (Source, error) {
			if f.Key == nil {
				v, src, err := read(ctx, s)
				if err == nil {
					t, _ := v.(T) // a nil T is a nil any
					f.Set(s, t)
				}
				return src, err
			}
			id := flightKey{f.Name, f.Key(s)}
			var (
				key   string // the cache's
				stale *cached
			)
			if f.Policy.CacheTTL > 0 { // without a TTL the key only coalesces
				key = id.step + "\x00" + id.key
				if e, ok := rt.cache.Get(key); ok {
					c := e.(cached)
					if time.Now().Before(c.fresh) {
						f.Set(s, c.v.(T))
						rt.lookedUp(ctx, f.Name, "hit")
						return Source{Status: StatusOK, Instance: "cache", Cache: "hit"}, nil
					}
					stale = &c
				}
				rt.lookedUp(ctx, f.Name, "miss")
			}
			// Identical concurrent reads share one call.
			res, src, err := rt.flights.do(ctx, id, func(ctx context.Context) (any, Source, error) {
				gen := rt.tags.generation()
				v, src, err := read(ctx, s)
				if err == nil && f.Policy.CacheTTL > 0 {
					var tags []string
					if t, _ := v.(T); f.Tags != nil {
						tags = f.Tags(t)
					}
					rt.store(key, cached{v: v, fresh: time.Now().Add(f.Policy.CacheTTL)}, f.Policy.CacheTTL+f.Policy.StaleTTL, tags, gen)
				}
				return v, src, err
			})
			if res == nil && ctx.Err() != nil {
				return Source{Status: classify(ctx, ctx.Err()), Error: ctx.Err().Error()}, ctx.Err()
			}
			if err == nil {
				f.Set(s, res.(T))
				return src, nil
			}
			if stale != nil && !domain.Is(err) {
				f.Set(s, stale.v.(T))
				rt.lookedUp(ctx, f.Name, "stale")
				src.Status, src.Cache = StatusCached, "stale"
				return src, nil
			}
			return src, err
		}}
}

// Plan is a composite: its steps and their dependencies, checked once when
// the plan is made. Run it once per request with a fresh state.
type Plan[S any] struct {
	rt     *Runtime
	nodes  []node[S]
	deps   [][]int // indexes of each node's After steps
	waited []bool  // whether any step waits for the node
}

// NewPlan checks and returns a plan. A step may only wait for steps listed
// before it, so a plan has no cycle; names must be unique.
func NewPlan[S any](rt *Runtime, steps ...Step[S]) (*Plan[S], error) {
	p := &Plan[S]{rt: rt}
	index := map[string]int{}
	for i, st := range steps {
		n := st.node(rt)
		if _, dup := index[n.name]; dup || n.name == "" {
			return nil, fmt.Errorf("plan: step %d: name %q is empty or used twice", i, n.name)
		}
		if err := rt.known(n.service); err != nil {
			return nil, fmt.Errorf("plan: step %q: %w", n.name, err)
		}
		var deps []int
		for _, a := range n.after {
			j, ok := index[a]
			if !ok {
				return nil, fmt.Errorf("plan: step %q waits for %q, which is not an earlier step", n.name, a)
			}
			deps = append(deps, j)
		}
		index[n.name] = i
		p.nodes = append(p.nodes, n)
		p.deps = append(p.deps, deps)
	}
	p.markWaited()
	return p, nil
}

// markWaited notes which steps another step waits for.
func (p *Plan[S]) markWaited() {
	p.waited = make([]bool, len(p.nodes))
	for _, deps := range p.deps {
		for _, j := range deps {
			p.waited[j] = true
		}
	}
}

// Only returns the plan of the named steps and the steps they wait for,
// in p's order: a composite asked for some of its parts (a sparse fieldset)
// calls only the services those parts need. An unknown name is an error.
func (p *Plan[S]) Only(names ...string) (*Plan[S], error) {
	keep := make([]bool, len(p.nodes))
	var mark func(i int)
	mark = func(i int) {
		if !keep[i] {
			keep[i] = true
			for _, j := range p.deps[i] {
				mark(j)
			}
		}
	}
	for _, name := range names {
		i := slices.IndexFunc(p.nodes, func(n node[S]) bool { return n.name == name })
		if i < 0 {
			return nil, fmt.Errorf("plan: no step %q", name)
		}
		mark(i)
	}
	q := &Plan[S]{rt: p.rt}
	index := make([]int, len(p.nodes)) // p's index -> q's
	for i, n := range p.nodes {
		if !keep[i] {
			continue
		}
		index[i] = len(q.nodes)
		deps := make([]int, len(p.deps[i]))
		for k, j := range p.deps[i] {
			deps[k] = index[j]
		}
		q.nodes = append(q.nodes, n)
		q.deps = append(q.deps, deps)
	}
	q.markWaited()
	return q, nil
}

// MustPlan is NewPlan for plans fixed in the code, which tests check.
func MustPlan[S any](rt *Runtime, steps ...Step[S]) *Plan[S] {
	p, err := NewPlan(rt, steps...)
	if err != nil {
		panic(err)
	}
	return p
}

// Compose runs p over s as the composite name: in a span "composite
// <name>", within deadline (none when zero).
func Compose[S any](ctx context.Context, name string, deadline time.Duration, p *Plan[S], s *S) (Meta, error) {
	ctx, span := p.rt.composite(ctx, name)
	defer span.End()
	if deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	return p.Run(ctx, s)
}

// Run runs the plan over s: each step as soon as the steps it waits for have
// finished, independent steps in parallel. A failed optional step leaves its
// part of s unset and marks Meta.Partial; a failed required step cancels the
// rest and Run returns its *SourceError.
func (p *Plan[S]) Run(ctx context.Context, s *S) (Meta, error) {
	n := len(p.nodes)
	sources := make([]Source, n)
	done := make([]chan struct{}, n) // closed when the step ends, for the steps that wait for it
	for i := range done {
		if p.waited[i] {
			done[i] = make(chan struct{})
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failure  error // the first required step's failure, which cancels the rest
	)
	// step runs node i: one closure per step, on a worker, except the last
	// step, which runs on this goroutine once the others are handed out (it
	// would only wait for them otherwise).
	step := func(i int) {
		defer wg.Done()
		if err := p.runNode(gctx, i, s, sources, done); err != nil {
			failOnce.Do(func() { failure = err; cancel() })
		}
		if done[i] != nil { // after the failure is recorded: a step skipped for it does not report first
			close(done[i])
		}
	}
	wg.Add(n)
	for i := range n - 1 {
		p.rt.workers.Go(func() { step(i) })
	}
	if n > 0 {
		step(n - 1)
	}
	wg.Wait()
	err := failure
	meta := Meta{Sources: make(map[string]Source, n)}
	for i, nd := range p.nodes {
		meta.Sources[nd.name] = sources[i]
		if st := sources[i].Status; st != StatusOK && st != StatusCached {
			meta.Partial = true
		}
	}
	return meta, err
}

// runNode runs step i of the plan over s once the steps it waits for are
// done (done), and notes its outcome in sources[i]; it returns the error
// that fails the plan, a required step's.
func (p *Plan[S]) runNode(gctx context.Context, i int, s *S, sources []Source, done []chan struct{}) error {
	nd := p.nodes[i]
	for _, j := range p.deps[i] {
		select {
		case <-done[j]:
		case <-gctx.Done():
			sources[i] = Source{Status: StatusSkipped}
			return nil
		}
		if st := sources[j].Status; st != StatusOK && st != StatusCached {
			sources[i] = Source{Status: StatusSkipped, Error: "needs " + p.nodes[j].name + ", which failed"}
			if nd.required {
				return &SourceError{Source: nd.name, Status: StatusSkipped, Err: fmt.Errorf("needs %s: %s", p.nodes[j].name, st)}
			}
			return nil
		}
	}
	ctx, span := p.rt.span(gctx, "call", nd.name)
	src, err := nd.run(ctx, s)
	p.rt.observed(ctx, span, nd.name, nd.service, nd.required, src, err)
	sources[i] = src
	if err != nil && nd.required {
		return &SourceError{Source: nd.name, Status: src.Status, Err: err}
	}
	return nil
}
