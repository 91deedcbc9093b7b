package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/hop"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TraceHeader names the trace a response belongs to, so that a developer
// can look it up at /admin/traces/{id}.
const TraceHeader = "X-Trace-Id"

type serverMetrics struct {
	duration metric.Float64Histogram
	active   metric.Int64UpDownCounter
	sets     memo[setKey, metric.MeasurementOption]
	routes   memo[string, string] // echo's pattern → OpenAPI's (Route)
}

// setKey names a request's measurements: a struct, so that looking one up
// allocates nothing.
type setKey struct {
	method, route string
	status        int
}

// set returns the attributes of a request's measurements, made once per
// method, route and status (route "" and status 0: method alone).
func (m *serverMetrics) set(method, route string, status int) metric.MeasurementOption {
	return m.sets.get(setKey{method, route, status}, func() metric.MeasurementOption {
		kvs := []attribute.KeyValue{attribute.String("http.request.method", method)}
		if route != "" {
			kvs = append(kvs, attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
		}
		return metric.WithAttributeSet(attribute.NewSet(kvs...))
	})
}

// route is Route(pattern), written once per pattern.
func (m *serverMetrics) route(pattern string) string {
	return m.routes.get(pattern, func() string { return Route(pattern) })
}

// memo is a map filled on first use and then only read, under a read
// lock: what every request looks up and few requests add to.
type memo[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *memo[K, V]) get(k K, build func() V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = build()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	c.m[k] = v
	return v
}

func newServerMetrics(m metric.Meter) (*serverMetrics, error) {
	d, err := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, err
	}
	a, err := m.Int64UpDownCounter("http.server.active_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests in flight."))
	if err != nil {
		return nil, err
	}
	return &serverMetrics{duration: d, active: a}, nil
}

// Middleware traces and measures every request: it continues the trace
// the caller propagated (W3C traceparent), names the server span after the
// route ("GET /api/v1/products/{id}/page"), answers with the trace id in
// X-Trace-Id, and records request duration and in-flight requests by
// method, route and status. Routes are patterns, never ids, so the metrics'
// label values stay bounded.
//
// Probes and heartbeats (untraced) are measured but not traced: machines
// ask them every second, and their traces would push the ones people look
// for out of the ring.
func (t *Telemetry) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := req.Context()
			method := knownMethod(req.Method)
			var span trace.Span = noSpan
			if !untraced(req.Method, c.Path()) {
				ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(req.Header))
				ctx, span = t.Tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
			}
			if span.IsRecording() {
				span.SetAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.URLPath(req.URL.Path))
			}
			defer span.End()
			c.SetRequest(req.WithContext(ctx))
			if sc := span.SpanContext(); sc.IsSampled() {
				c.Response().Header().Set(TraceHeader, sc.TraceID().String())
			}
			active := t.server.set(method, "", 0)
			t.server.active.Add(ctx, 1, active)
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // answer now, so that the status below is the one sent
			}
			route := t.server.route(c.Path())
			if inner := hop.RouteOf(c.Request().Context()); inner != "" {
				route = t.server.route(inner)
			}
			status := c.Response().Status
			if span.IsRecording() {
				span.SetName(method + " " + route)
				span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
				if status >= 500 {
					span.SetStatus(codes.Error, strconv.Itoa(status))
				}
			}
			t.server.active.Add(ctx, -1, active)
			t.server.duration.Record(ctx, time.Since(start).Seconds(), t.server.set(method, route, status))
			return nil
		}
	}
}

// knownMethod is a request's method as metrics and spans name it: one of
// HTTP's, or _OTHER (OpenTelemetry's conventions), so that a client that
// makes methods up cannot grow the metrics' series without bound.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// noSpan is the span of an untraced request: it records nothing.
var noSpan = trace.SpanFromContext(context.Background())

// untraced reports whether an echo route is a probe or a heartbeat.
func untraced(method, path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	case "/admin/registry/instances/:id": // a service's registration, renewed every second
		return method == "PUT"
	}
	return false
}

// Route writes an echo route pattern the way OpenAPI does
// ("/products/:id" is "/products/{id}"); no route is "unmatched".
func Route(path string) string {
	if path == "" {
		return "unmatched"
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = "{" + name + "}"
		}
	}
	return strings.Join(parts, "/")
}

// Span starts a span named kind and name, child of the one in ctx; see
// Start.
func (t *Telemetry) Span(ctx context.Context, kind, name string) (context.Context, trace.Span) {
	return Start(ctx, t.Tracer, kind, name)
}

// Start starts a span named kind and name ("call product"), child of the
// one in ctx. Under a parent that is not sampled it starts nothing and
// returns ctx and that parent's span, which records nothing and whose End
// does nothing: with parent-based sampling the child would not be sampled
// either, so an unsampled request pays for no spans, not even their names.
func Start(ctx context.Context, tracer trace.Tracer, kind, name string) (context.Context, trace.Span) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracer.Start(ctx, kind+" "+name)
}

// LogHandler wraps h so that every record written with a context inside a
// span carries trace_id and span_id.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
