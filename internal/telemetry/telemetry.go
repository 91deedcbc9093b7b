// Package telemetry sets up OpenTelemetry for one atrium process: traces
// (W3C trace context in and out, kept in an in-process ring of recent
// traces, and exported over OTLP/HTTP when an endpoint is configured),
// metrics exported in the Prometheus text format at /metrics, and a slog
// handler that stamps every line written within a request with its trace.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Config configures New. Zero fields take the defaults in brackets.
type Config struct {
	// Service names the process in traces and metrics (service.name).
	Service string
	// Endpoint, when set, is an OTLP/HTTP collector that spans are exported
	// to, besides the in-process ring: "host:4318", or a base URL such as
	// "http://collector:4318" (as OTEL_EXPORTER_OTLP_ENDPOINT; /v1/traces
	// is added), or the full URL of the traces endpoint.
	Endpoint string
	// SampleRatio samples that fraction of new traces; a request that
	// arrives with a sampled parent is always traced (parent-based) [1].
	// Negative means none.
	SampleRatio float64
	// RingTraces is how many recent traces the process keeps [256].
	RingTraces int
}

// Telemetry is one process's tracing and metrics.
type Telemetry struct {
	Tracer     trace.Tracer
	Meter      metric.Meter
	Propagator propagation.TextMapPropagator
	// Ring holds the recent traces this process took part in.
	Ring *Ring

	tp       *sdktrace.TracerProvider
	mp       *sdkmetric.MeterProvider
	registry *prometheus.Registry
	server   *serverMetrics
}

// New sets up tracing and metrics for a process.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.SampleRatio == 0 {
		cfg.SampleRatio = 1
	}
	if cfg.RingTraces == 0 {
		cfg.RingTraces = 256
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.Service))
	ring := NewRing(cfg.RingTraces, cfg.Service)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(max(cfg.SampleRatio, 0)))),
		sdktrace.WithSpanProcessor(ring),
	}
	if cfg.Endpoint != "" {
		var eopt otlptracehttp.Option = otlptracehttp.WithEndpoint(cfg.Endpoint)
		if u, err := url.Parse(cfg.Endpoint); err == nil && strings.Contains(cfg.Endpoint, "://") {
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			eopt = otlptracehttp.WithEndpointURL(u.String())
		}
		exp, err := otlptracehttp.New(ctx, eopt, otlptracehttp.WithInsecure())
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	t := &Telemetry{
		Propagator: propagation.TraceContext{},
		Ring:       ring,
		tp:         sdktrace.NewTracerProvider(opts...),
		mp:         sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter)),
		registry:   registry,
	}
	t.Tracer = t.tp.Tracer("github.com/atrium-bff/atrium")
	t.Meter = t.mp.Meter("github.com/atrium-bff/atrium")
	if t.server, err = newServerMetrics(t.Meter); err != nil {
		return nil, err
	}
	return t, nil
}

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}

// MetricsHandler serves the process's metrics in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Transport wraps base so that every outgoing request carries its caller's
// trace context (W3C traceparent, sampled or not), so that the service
// continues the trace, or records nothing of an unsampled one. It makes no
// span of its own: the engine's "call" spans and the proxy's "proxy" spans
// time the calls already, named after the service, and otelhttp's client
// span cost 9% of the gateway's CPU at capacity for nothing more. It sets
// the header on the request it is given, so it belongs under a transport
// that sends its own copy of each request (a balance.Transport). If base is
// nil, http.DefaultTransport.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return propagating{base: base, prop: t.Propagator}
}

type propagating struct {
	base http.RoundTripper
	prop propagation.TextMapPropagator
}

func (p propagating) RoundTrip(req *http.Request) (*http.Response, error) {
	if trace.SpanContextFromContext(req.Context()).IsValid() {
		p.prop.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
	}
	return p.base.RoundTrip(req)
}
