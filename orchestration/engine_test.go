package orchestration_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/partition"
)

// state is a test composite's state: each step writes its own slot.
type state struct {
	key  string
	vals [8]string
}

// fetch declares a step that stores get's answer in slot i.
func fetch(name string, i int, p orchestration.Policy, get func(context.Context) (string, error), after ...string) orchestration.Step[state] {
	return orchestration.Fetch[state, string]{Name: name, Service: "svc-" + name, After: after, Policy: p,
		Get: func(ctx context.Context, _ *state) (string, error) { return get(ctx) },
		Set: func(s *state, v string) { s.vals[i] = v }}
}

func ok(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return v, nil }
}

var errBoom = errors.New("boom")

func failing(context.Context) (string, error) { return "", errBoom }

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

func plan(t *testing.T, rt *orchestration.Runtime, steps ...orchestration.Step[state]) *orchestration.Plan[state] {
	t.Helper()
	p, err := orchestration.NewPlan(rt, steps...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIndependentStepsRunInParallel(t *testing.T) {
	// Every step waits until all have started: run one after another, they
	// would never get there and would time out instead.
	const n = 4
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	wait := func(ctx context.Context) (string, error) {
		started.Done()
		select {
		case <-all:
			return "x", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	p := orchestration.Policy{Required: true, Timeout: 10 * time.Second}
	var steps []orchestration.Step[state]
	for i, name := range []string{"a", "b", "c", "d"} {
		steps = append(steps, fetch(name, i, p, wait))
	}
	var s state
	meta, err := plan(t, orchestration.NewRuntime(orchestration.RuntimeConfig{}), steps...).Run(context.Background(), &s)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Partial || len(meta.Sources) != n || s.vals[3] != "x" {
		t.Errorf("meta = %+v, state %v", meta, s.vals)
	}
	for name, src := range meta.Sources {
		if src.Status != orchestration.StatusOK || src.Instance != orchestration.InProcess || src.Attempts != 1 {
			t.Errorf("%s: %+v", name, src)
		}
	}
}

func TestAStepWaitsOnlyForWhatItNeeds(t *testing.T) {
	release := make(chan struct{})
	var sawA atomic.Value
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	p := plan(t, rt,
		fetch("a", 0, orchestration.Policy{}, ok("A")),
		fetch("slow", 1, orchestration.Policy{}, func(ctx context.Context) (string, error) {
			select { // finishes only once b has run: b must not wait for it
			case <-release:
				return "S", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}),
		orchestration.Fetch[state, string]{Name: "b", Service: "svc-b", After: []string{"a"},
			Get: func(_ context.Context, s *state) (string, error) {
				sawA.Store(s.vals[0])
				close(release)
				return "B", nil
			},
			Set: func(s *state, v string) { s.vals[2] = v }},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s state
	if _, err := p.Run(ctx, &s); err != nil {
		t.Fatal(err)
	}
	if sawA.Load() != "A" || s.vals != [8]string{"A", "S", "B"} {
		t.Errorf("b saw %v; state %v", sawA.Load(), s.vals)
	}
}

func TestOnlyRunsTheNamedStepsAndWhatTheyWaitFor(t *testing.T) {
	var calls sync.Map
	count := func(name, v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { calls.Store(name, true); return v, nil }
	}
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	full := plan(t, rt,
		fetch("a", 0, orchestration.Policy{Required: true}, count("a", "A")),
		fetch("b", 1, orchestration.Policy{}, count("b", "B")),
		fetch("c", 2, orchestration.Policy{}, count("c", "C"), "b"),
		fetch("d", 3, orchestration.Policy{}, count("d", "D"), "a"),
	)
	p, err := full.Only("a", "c")
	if err != nil {
		t.Fatal(err)
	}
	var s state
	meta, err := p.Run(context.Background(), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.vals != [8]string{"A", "B", "C"} {
		t.Errorf("state %v, want A B C and no D", s.vals)
	}
	if _, ran := calls.Load("d"); ran || len(meta.Sources) != 3 || meta.Partial {
		t.Errorf("d called: %v; meta %+v", ran, meta)
	}
	if _, err := full.Only("a", "nope"); err == nil {
		t.Error("Only accepted an unknown step")
	}
}

func TestPlanRejectsBadGraphs(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	for name, steps := range map[string][]orchestration.Step[state]{
		"unknown dependency": {fetch("a", 0, orchestration.Policy{}, ok("A"), "nope")},
		"forward dependency": {fetch("a", 0, orchestration.Policy{}, ok("A"), "b"), fetch("b", 1, orchestration.Policy{}, ok("B"))},
		"duplicate name":     {fetch("a", 0, orchestration.Policy{}, ok("A")), fetch("a", 1, orchestration.Policy{}, ok("B"))},
	} {
		if _, err := orchestration.NewPlan(rt, steps...); err == nil {
			t.Errorf("%s: NewPlan accepted it", name)
		}
	}
}

func TestOptionalFailureIsPartialAndSkipsDependents(t *testing.T) {
	var s state
	meta, err := plan(t, orchestration.NewRuntime(orchestration.RuntimeConfig{}),
		fetch("main", 0, orchestration.Policy{Required: true}, ok("M")),
		fetch("extra", 1, orchestration.Policy{}, failing),
		fetch("enrich", 2, orchestration.Policy{}, ok("E"), "extra"),
	).Run(context.Background(), &s)
	if err != nil {
		t.Fatalf("an optional failure failed the composite: %v", err)
	}
	if !meta.Partial || meta.Sources["extra"].Status != orchestration.StatusError || meta.Sources["main"].Status != orchestration.StatusOK {
		t.Errorf("meta = %+v", meta)
	}
	if !strings.Contains(meta.Sources["extra"].Error, "boom") {
		t.Errorf("the source's error is not reported: %+v", meta.Sources["extra"])
	}
	if meta.Sources["enrich"].Status != orchestration.StatusSkipped || s.vals[2] != "" {
		t.Errorf("a step after a failed one ran: %+v, %q", meta.Sources["enrich"], s.vals[2])
	}
}

func TestRequiredFailureCancelsTheRest(t *testing.T) {
	var s state
	meta, err := plan(t, orchestration.NewRuntime(orchestration.RuntimeConfig{}),
		fetch("main", 0, orchestration.Policy{Required: true}, failing),
		fetch("slow", 1, orchestration.Policy{}, func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }),
	).Run(context.Background(), &s)
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Source != "main" || !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want main's SourceError wrapping boom", err)
	}
	if got := meta.Sources["slow"].Status; got != orchestration.StatusSkipped {
		t.Errorf("the cancelled call's status = %s, want skipped", got)
	}
	if se.Status != orchestration.StatusError {
		t.Errorf("status %s, want error (a 502 at the edge)", se.Status)
	}
}

// TestTheFirstFailureIsTheCause: a required step that waits for a failed
// required step is skipped, and the composite fails with the cause (an
// unknown product is a 404), never with "skipped: needs product".
func TestTheFirstFailureIsTheCause(t *testing.T) {
	for range 200 { // the two used to race to report first
		p := plan(t, orchestration.NewRuntime(orchestration.RuntimeConfig{}), // a new breaker each time
			fetch("product", 0, orchestration.Policy{Required: true}, failing),
			fetch("stock", 1, orchestration.Policy{Required: true}, ok("S"), "product"),
		)
		var s state
		_, err := p.Run(context.Background(), &s)
		var se *orchestration.SourceError
		if !errors.As(err, &se) || se.Source != "product" || !errors.Is(err, errBoom) {
			t.Fatalf("err = %v, want product's failure", err)
		}
	}
}

func TestTimeoutIsATimeout(t *testing.T) {
	var s state
	_, err := plan(t, orchestration.NewRuntime(orchestration.RuntimeConfig{}),
		fetch("hung", 0, orchestration.Policy{Required: true, Timeout: time.Millisecond}, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}),
	).Run(context.Background(), &s)
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Status != orchestration.StatusTimeout {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

var errGone = domain.New(domain.NotFound, "gone")

func TestRetriesAreForFailuresNotAnswers(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	var calls atomic.Int32
	flaky := func(context.Context) (string, error) {
		if calls.Add(1) < 3 {
			return "", errBoom
		}
		return "ok", nil
	}
	var s state
	meta, err := plan(t, rt, fetch("flaky", 0, orchestration.Policy{Required: true, Retries: 2}, flaky)).Run(context.Background(), &s)
	if err != nil || s.vals[0] != "ok" || meta.Sources["flaky"].Attempts != 3 {
		t.Fatalf("err %v, value %q, meta %+v: want success on the third attempt", err, s.vals[0], meta.Sources["flaky"])
	}
	calls.Store(0)
	gone := func(context.Context) (string, error) { calls.Add(1); return "", errGone }
	_, err = plan(t, rt, fetch("gone", 0, orchestration.Policy{Required: true, Retries: 2}, gone)).Run(context.Background(), &s)
	if calls.Load() != 1 || !errors.Is(err, errGone) {
		t.Errorf("a not-found answer was tried %d times (err %v); want once", calls.Load(), err)
	}
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Status != orchestration.StatusError {
		t.Errorf("err = %v, want the required source's error", err)
	}
}

func TestRetryBudgetStopsRetriesInAnOutage(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{RetryBudget: 10, RetryRatio: 0.1, BreakerFailures: 1000})
	var calls atomic.Int32
	down := func(context.Context) (string, error) { calls.Add(1); return "", errBoom }
	p := plan(t, rt, fetch("down", 0, orchestration.Policy{Retries: 3}, down))
	const requests = 50
	for range requests {
		var s state
		p.Run(context.Background(), &s)
	}
	// Without a budget: 50 * 4 = 200 calls. With it, retries stop once half
	// the 10 tokens are spent.
	if got := calls.Load(); got > requests+6 {
		t.Errorf("%d requests made %d calls; the budget allows at most %d", requests, got, requests+6)
	}
}

func TestBreakerOpensAndRecoversThroughHalfOpen(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 3, BreakerCooldown: 50 * time.Millisecond})
	var healthy atomic.Bool
	var calls atomic.Int32
	svc := func(context.Context) (string, error) {
		calls.Add(1)
		if healthy.Load() {
			return "up", nil
		}
		return "", errBoom
	}
	p := plan(t, rt, fetch("x", 0, orchestration.Policy{Required: true}, svc))
	run := func() (orchestration.Meta, error) {
		var s state
		return p.Run(context.Background(), &s)
	}
	for range 3 {
		run()
	}
	if rt.BreakerState("svc-x") != "open" {
		t.Fatalf("breaker %s after 3 failures, want open", rt.BreakerState("svc-x"))
	}
	before := calls.Load()
	meta, err := run()
	if calls.Load() != before || meta.Sources["x"].Status != orchestration.StatusCircuitOpen {
		t.Errorf("an open breaker let a call through: %+v", meta.Sources["x"])
	}
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Status != orchestration.StatusCircuitOpen {
		t.Errorf("err = %v, want circuit_open (a 503 at the edge)", err)
	}
	healthy.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for rt.BreakerState("svc-x") != "half-open" {
		if time.Now().After(deadline) {
			t.Fatal("breaker never went half-open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 { // the half-open breaker closes after three good probes
		if _, err := run(); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if st := rt.BreakerState("svc-x"); st != "closed" {
		t.Errorf("after three good probes the breaker is %s, want closed", st)
	}
}

// TestOnePartitionDownLeavesTheBreakerClosed: a partition that does not
// answer fails its own keys; the service's other partitions still serve, so
// its breaker stays closed.
func TestOnePartitionDownLeavesTheBreakerClosed(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 3, BreakerCooldown: time.Minute})
	down := func(context.Context) (string, error) {
		return "", &partition.UnavailableError{Service: "svc-x", Partition: "E-P", Err: errBoom}
	}
	p := plan(t, rt, fetch("x", 0, orchestration.Policy{Required: true}, down))
	for range 5 {
		var s state
		if _, err := p.Run(context.Background(), &s); !errors.As(err, new(*partition.UnavailableError)) {
			t.Fatalf("err = %v, want the partition's", err)
		}
	}
	if st := rt.BreakerState("svc-x"); st != "closed" {
		t.Errorf("after 5 calls to one partition that is down the service's breaker is %s, want closed", st)
	}
}

func TestCacheStaleIfErrorAndCoalescing(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 1000})
	var calls atomic.Int32
	var up atomic.Bool
	up.Store(true)
	gate := make(chan struct{})
	svc := func(ctx context.Context) (string, error) {
		calls.Add(1)
		<-gate
		if up.Load() {
			return "v1", nil
		}
		return "", errBoom
	}
	p := plan(t, rt, orchestration.Fetch[state, string]{Name: "c", Service: "svc-c",
		Policy: orchestration.Policy{CacheTTL: time.Nanosecond, StaleTTL: time.Hour},
		Key:    func(s *state) string { return s.key },
		Get:    func(ctx context.Context, _ *state) (string, error) { return svc(ctx) },
		Set:    func(s *state, v string) { s.vals[0] = v }})

	// 100 identical concurrent reads share one call.
	const n = 100
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := range n {
		wg.Go(func() {
			s := state{key: "k"}
			p.Run(context.Background(), &s)
			results[i] = s.vals[0]
		})
	}
	waitFor(t, "the others to pile up behind the first call", func() bool { return orchestration.Waiting(rt, "c", "k") >= n-1 })
	close(gate)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d concurrent identical reads made %d calls, want 1", n, calls.Load())
	}
	for i, r := range results {
		if r != "v1" {
			t.Fatalf("reader %d got %q", i, r)
		}
	}

	// The value is stale (TTL 1ns); the service fails: stale-if-error.
	up.Store(false)
	s := state{key: "k"}
	meta, err := p.Run(context.Background(), &s)
	if err != nil || s.vals[0] != "v1" || meta.Sources["c"].Status != orchestration.StatusCached || meta.Sources["c"].Cache != "stale" {
		t.Errorf("stale-if-error: %v, %q, %+v", err, s.vals[0], meta.Sources["c"])
	}
	if meta.Partial {
		t.Error("a stale answer marked the composite partial")
	}
}

func TestACoalescedReadOutlivesItsFirstCallersCancellation(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 1000})
	var calls atomic.Int32
	p := plan(t, rt, orchestration.Fetch[state, string]{Name: "c", Service: "svc-c",
		Key: func(s *state) string { return s.key },
		Get: func(ctx context.Context, _ *state) (string, error) {
			if calls.Add(1) == 1 { // the first call lasts until its caller gives up
				<-ctx.Done()
				return "", ctx.Err()
			}
			return "v2", nil
		},
		Set: func(s *state, v string) { s.vals[0] = v }})

	first, cancel := context.WithCancel(context.Background())
	go p.Run(first, &state{key: "k"})
	waitFor(t, "the first call", func() bool { return calls.Load() == 1 })
	type result struct {
		v   string
		err error
	}
	second := make(chan result)
	go func() {
		s := state{key: "k"}
		_, err := p.Run(context.Background(), &s)
		second <- result{s.vals[0], err}
	}()
	waitFor(t, "the second caller to wait", func() bool { return orchestration.Waiting(rt, "c", "k") == 1 })
	cancel()
	if r := <-second; r.err != nil || r.v != "v2" {
		t.Errorf("the second caller got %q, %v; want its own call's v2", r.v, r.err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

func TestHedgingAnswersFromTheFasterAttempt(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	var calls atomic.Int32
	svc := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 { // the first request hangs until cancelled
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "fast", nil
	}
	var s state
	meta, err := plan(t, rt, fetch("h", 0, orchestration.Policy{Required: true, Hedge: true, Timeout: 10 * time.Second}, svc)).Run(context.Background(), &s)
	if err != nil || s.vals[0] != "fast" || meta.Sources["h"].Attempts != 2 {
		t.Errorf("hedged read: %v, %q, %+v", err, s.vals[0], meta.Sources["h"])
	}
}

func TestHealClosesTheBreakerOfAServiceWithANewInstance(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 2, BreakerCooldown: time.Hour})
	var healthy atomic.Bool
	call := func(context.Context) (string, error) {
		if healthy.Load() {
			return "ok", nil
		}
		return "", errBoom
	}
	p := plan(t, rt, fetch("x", 0, orchestration.Policy{Required: true}, call))
	for range 2 {
		p.Run(context.Background(), &state{})
	}
	if rt.BreakerState("svc-x") != "open" {
		t.Fatalf("breaker %s, want open", rt.BreakerState("svc-x"))
	}
	healthy.Store(true) // a new instance
	rt.Heal("svc-x")
	var s state
	if _, err := p.Run(context.Background(), &s); err != nil || s.vals[0] != "ok" {
		t.Errorf("after Heal: %v, %q; want the call made at once, not after the hour's cooldown", err, s.vals[0])
	}
}

// TestHealForgetsFailuresShortOfOpening: a breaker one failure short of
// opening when a new instance registers starts again from none, so that a
// last failure of the old instance does not open it on the new one.
func TestHealForgetsFailuresShortOfOpening(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{BreakerFailures: 3, BreakerCooldown: time.Hour})
	p := plan(t, rt, fetch("x", 0, orchestration.Policy{Required: true}, func(context.Context) (string, error) { return "", errBoom }))
	for range 2 {
		p.Run(context.Background(), &state{})
	}
	rt.Heal("svc-x") // a new instance, two failures counted
	for range 2 {
		p.Run(context.Background(), &state{})
	}
	if st := rt.BreakerState("svc-x"); st != "closed" {
		t.Errorf("two failures after Heal (four in all, three open it): breaker %s, want closed", st)
	}
}
