package orchestration

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/atrium-bff/atrium/internal/telemetry"
)

// instruments are the runtime's spans and metrics. Attribute values are
// source and service names, statuses and policies: bounded sets, never ids.
type instruments struct {
	tracer       trace.Tracer
	callDuration metric.Float64Histogram
	cacheLookups metric.Int64Counter
	sets         sync.Map // attribute values joined by \x00 → metric.MeasurementOption
}

// attrs returns the measurement option for the attributes keys=values,
// made once per distinct set: recording stays free of allocations.
func (ins *instruments) attrs(keys []string, values ...string) metric.MeasurementOption {
	id := strings.Join(keys, ",") + "=" + strings.Join(values, "\x00")
	if o, ok := ins.sets.Load(id); ok {
		return o.(metric.MeasurementOption)
	}
	kvs := make([]attribute.KeyValue, len(keys))
	for i, k := range keys {
		kvs[i] = attribute.String(k, values[i])
	}
	o, _ := ins.sets.LoadOrStore(id, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	return o.(metric.MeasurementOption)
}

var (
	callKeys   = []string{"atrium.source", "atrium.service", "atrium.status"}
	lookupKeys = []string{"atrium.source", "atrium.cache.result"}
)

func (rt *Runtime) instrument() error {
	rt.ins.tracer = rt.cfg.Tracer
	if rt.ins.tracer == nil {
		rt.ins.tracer = tracenoop.NewTracerProvider().Tracer("")
	}
	m := rt.cfg.Meter
	if m == nil {
		m = metricnoop.NewMeterProvider().Meter("")
	}
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

// composite starts the span of a composite.
func (rt *Runtime) composite(ctx context.Context, name string) (context.Context, trace.Span) {
	return telemetry.Start(ctx, rt.ins.tracer, "composite "+name)
}

// observe runs one call of a composite in a span "call <name>" and records
// its outcome.
func (rt *Runtime) observe(ctx context.Context, name, service string, required bool, run func(context.Context) (Source, error)) (Source, error) {
	ctx, span := telemetry.Start(ctx, rt.ins.tracer, "call "+name)
	src, err := run(ctx)
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
	rt.ins.callDuration.Record(ctx, src.DurationMS/1000, rt.ins.attrs(callKeys, name, service, string(src.Status)))
	return src, err
}

// lookedUp counts a cache lookup of source with result hit, miss or stale.
func (rt *Runtime) lookedUp(ctx context.Context, source, result string) {
	rt.ins.cacheLookups.Add(ctx, 1, rt.ins.attrs(lookupKeys, source, result))
}
