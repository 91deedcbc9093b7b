package orchestration

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/atrium-bff/atrium/internal/telemetry"
)

// instruments are the runtime's spans and metrics. Attribute values are
// source and service names, statuses and policies: bounded sets, never ids.
type instruments struct {
	tracer       trace.Tracer // nil: no spans at all, not even no-op ones
	measured     bool         // false: record no metrics
	callDuration metric.Float64Histogram
	cacheLookups metric.Int64Counter
	recovered    metric.Int64Counter
	repaired     metric.Int64Counter

	mu   sync.RWMutex
	sets map[attrKey]metric.MeasurementOption
}

// The attribute keys of the instruments, in the order of attrKey's values.
var (
	callKeys   = []string{"atrium.source", "atrium.service", "atrium.status"}
	lookupKeys = []string{"atrium.source", "atrium.cache.result"}
	sagaKeys   = []string{"atrium.saga", "atrium.direction"}
	repairKeys = []string{"atrium.repair"}
)

// attrKey identifies a set of measurement attributes: an instrument's
// keys (by name) and up to three values.
type attrKey struct{ instrument, a, b, c string }

// attrs returns the measurement option for the attributes of an
// instrument, made once per distinct set, so that recording allocates
// nothing.
func (ins *instruments) attrs(k attrKey, keys []string) metric.MeasurementOption {
	ins.mu.RLock()
	o, ok := ins.sets[k]
	ins.mu.RUnlock()
	if ok {
		return o
	}
	values := []string{k.a, k.b, k.c}
	kvs := make([]attribute.KeyValue, len(keys))
	for i, key := range keys {
		kvs[i] = attribute.String(key, values[i])
	}
	o = metric.WithAttributeSet(attribute.NewSet(kvs...))
	ins.mu.Lock()
	if ins.sets == nil {
		ins.sets = map[attrKey]metric.MeasurementOption{}
	}
	ins.sets[k] = o
	ins.mu.Unlock()
	return o
}

func (rt *Runtime) instrument() error {
	rt.ins.tracer = rt.cfg.Tracer
	m := rt.cfg.Meter
	if m == nil {
		return nil
	}
	rt.ins.measured = true
	var err error
	if rt.ins.callDuration, err = m.Float64Histogram("atrium.downstream.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of downstream calls, by source, service and outcome."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)); err != nil {
		return err
	}
	if rt.ins.cacheLookups, err = m.Int64Counter("atrium.cache.lookups", metric.WithUnit("{lookup}"),
		metric.WithDescription("Response cache lookups, by source and result (hit, miss, stale).")); err != nil {
		return err
	}
	if rt.ins.recovered, err = m.Int64Counter("atrium.saga.recovered", metric.WithUnit("{run}"),
		metric.WithDescription("Saga runs taken over from a process that died and driven to their end, by saga and direction.")); err != nil {
		return err
	}
	if rt.ins.repaired, err = m.Int64Counter("atrium.reconciler.repairs", metric.WithUnit("{repair}"),
		metric.WithDescription("Charges refunded and reservations released by the reconciler, which no order nor unfinished run claimed.")); err != nil {
		return err
	}
	breakers, err := m.Int64ObservableGauge("atrium.breaker.state",
		metric.WithDescription("Circuit breaker state by service: 0 closed, 1 half-open, 2 open."))
	if err != nil {
		return err
	}
	budgets, err := m.Float64ObservableGauge("atrium.retry.budget", metric.WithUnit("{token}"),
		metric.WithDescription("Retry budget tokens left by service; retries stop at half of the budget."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for name, cb := range rt.breakers {
			o.ObserveInt64(breakers, int64(cb.State()), metric.WithAttributes(attribute.String("atrium.service", name)))
		}
		for name, b := range rt.budgets {
			b.mu.Lock()
			o.ObserveFloat64(budgets, b.tokens, metric.WithAttributes(attribute.String("atrium.service", name)))
			b.mu.Unlock()
		}
		return nil
	}, breakers, budgets)
	return err
}

// span starts a span, or nothing when the runtime has no tracer.
func (rt *Runtime) span(ctx context.Context, kind, name string) (context.Context, trace.Span) {
	if rt.ins.tracer == nil {
		return ctx, noSpan
	}
	return telemetry.Start(ctx, rt.ins.tracer, kind, name)
}

// noSpan is the span of an untraced runtime: it records nothing. It is an
// interface value made once, so that handing it out allocates nothing.
var noSpan trace.Span = tracenoop.Span{}

// composite starts the span of a composite.
func (rt *Runtime) composite(ctx context.Context, name string) (context.Context, trace.Span) {
	return rt.span(ctx, "composite", name)
}

// observe runs one call of a composite in a span "call <name>" and records
// its outcome.
func (rt *Runtime) observe(ctx context.Context, name, service string, required bool, run func(context.Context) (Source, error)) (Source, error) {
	ctx, span := rt.span(ctx, "call", name)
	src, err := run(ctx)
	rt.observed(ctx, span, name, service, required, src, err)
	return src, err
}

// observed ends the span of one call of a composite (begun with rt.span
// "call <name>") and records its outcome: observe in two halves, for the
// engine's hot path, which calls without a closure.
func (rt *Runtime) observed(ctx context.Context, span trace.Span, name, service string, required bool, src Source, err error) {
	if span.IsRecording() { // an unsampled call costs no attributes
		policy := "optional"
		if required {
			policy = "required"
		}
		span.SetAttributes(
			attribute.String("atrium.source", name), attribute.String("atrium.service", service),
			attribute.String("atrium.policy", policy),
			attribute.String("atrium.status", string(src.Status)), attribute.String("atrium.instance", src.Instance),
			attribute.Int("atrium.attempts", src.Attempts), attribute.String("atrium.cache", src.Cache),
			attribute.String("atrium.breaker", rt.BreakerState(service)))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
	if rt.ins.measured {
		rt.ins.callDuration.Record(ctx, src.DurationMS/1000, rt.ins.attrs(attrKey{"call", name, service, string(src.Status)}, callKeys))
	}
}

// lookedUp counts a cache lookup of source with result hit, miss or stale.
func (rt *Runtime) lookedUp(ctx context.Context, source, result string) {
	if rt.ins.measured {
		rt.ins.cacheLookups.Add(ctx, 1, rt.ins.attrs(attrKey{"lookup", source, result, ""}, lookupKeys))
	}
}

// Recovered counts a run of saga taken over from a dead process and driven
// in direction (forward or backward).
func (rt *Runtime) Recovered(ctx context.Context, saga, direction string) {
	if rt.ins.measured {
		rt.ins.recovered.Add(ctx, 1, rt.ins.attrs(attrKey{"saga", saga, direction, ""}, sagaKeys))
	}
}

// Repaired counts a repair of the reconciler: a refund or a release.
func (rt *Runtime) Repaired(ctx context.Context, kind string) {
	if rt.ins.measured {
		rt.ins.repaired.Add(ctx, 1, rt.ins.attrs(attrKey{"repair", kind, "", ""}, repairKeys))
	}
}
