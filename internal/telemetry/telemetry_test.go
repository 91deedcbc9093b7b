package telemetry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/telemetry"
)

func TestRingKeepsTheNewestTraces(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{Service: "test", RingTraces: 2})
	var ids []string
	for i := range 3 {
		ctx, root := tel.Tracer.Start(context.Background(), fmt.Sprintf("root %d", i))
		_, child := tel.Span(ctx, "call", "child")
		child.End()
		root.End()
		ids = append(ids, root.SpanContext().TraceID().String())
	}
	if got := tel.Ring.Trace(ids[0]); len(got) != 0 {
		t.Errorf("the oldest trace is still kept: %v", got)
	}
	spans := tel.Ring.Trace(ids[2])
	if len(spans) != 2 || spans[0].Name != "root 2" || spans[1].ParentID != spans[0].SpanID {
		t.Errorf("newest trace = %+v", spans)
	}
	if recent := tel.Ring.Recent(); len(recent) != 2 || recent[0].TraceID != ids[2] || recent[0].Root != "root 2" || recent[0].Spans != 2 {
		t.Errorf("Recent = %+v", recent)
	}
}

func TestUnsampledRequestsMakeNoSpans(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{Service: "test", SampleRatio: -1})
	ctx, root := tel.Tracer.Start(context.Background(), "root")
	_, child := tel.Span(ctx, "call", "child")
	if child.IsRecording() || child.SpanContext().SpanID() != root.SpanContext().SpanID() {
		t.Error("a child of an unsampled span was started")
	}
	child.End()
	root.End()
	if got := tel.Ring.Recent(); len(got) != 0 {
		t.Errorf("unsampled spans were kept: %v", got)
	}
}

func TestLogLinesCarryTheTrace(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{Service: "test"})
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	ctx, span := tel.Tracer.Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if want := `"trace_id":"` + span.SpanContext().TraceID().String() + `"`; !strings.Contains(lines[0], want) {
		t.Errorf("line inside the span lacks %s: %s", want, lines[0])
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line outside any span has a trace id: %s", lines[1])
	}
}

func TestOTLPExport(t *testing.T) {
	got := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, len(b))
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "test", Endpoint: collector.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer.Start(context.Background(), "exported")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "POST /v1/traces ") || strings.HasSuffix(req, " 0") {
			t.Errorf("collector got %q", req)
		}
	default:
		t.Fatal("no spans reached the OTLP endpoint")
	}
}

// TestTheRingKeepsPeoplesRequests: probes and registry heartbeats are
// measured but not traced, so that a ring of a few traces keeps the
// requests people make; a request served by a router mounted under a
// wildcard (a service under its instance's /*) is named after the inner
// route, in its span and its measurements.
func TestTheRingKeepsPeoplesRequests(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{Service: "test", SampleRatio: 1, RingTraces: 4})
	inner := echo.New()
	inner.GET("/items/:id", func(c echo.Context) error {
		hop.SetRoute(c.Request().Context(), c.Path())
		return c.NoContent(http.StatusOK)
	})
	e := echo.New()
	e.Use(tel.Middleware())
	ok := func(c echo.Context) error { return c.NoContent(http.StatusOK) }
	e.GET("/readyz", ok)
	e.GET("/healthz", ok)
	e.PUT("/admin/registry/instances/:id", ok)
	e.GET("/products/:id", ok)
	e.Any("/*", echo.WrapHandler(inner), func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(hop.Routed(c.Request().Context())))
			return next(c)
		}
	})
	ask := func(method, path string) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: %d", method, path, w.Code)
		}
	}
	for range 20 {
		ask("GET", "/readyz")
		ask("GET", "/healthz")
		ask("PUT", "/admin/registry/instances/catalog-1")
	}
	ask("GET", "/products/p001")
	ask("GET", "/items/7")
	var roots []string
	for _, tr := range tel.Ring.Recent() {
		roots = append(roots, tr.Root)
	}
	if want := []string{"GET /items/{id}", "GET /products/{id}"}; !slices.Equal(roots, want) {
		t.Errorf("the ring keeps %v, want %v", roots, want)
	}
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, route := range []string{`http_route="/readyz"`, `http_route="/items/{id}"`} {
		if !strings.Contains(w.Body.String(), route) {
			t.Errorf("no measurement of %s", route)
		}
	}
}

// TestMadeUpMethodsAreMeasuredAsOne: a client that sends methods of its own
// making gets them measured as _OTHER, not a series each.
func TestMadeUpMethodsAreMeasuredAsOne(t *testing.T) {
	tel := newTelemetry(t, telemetry.Config{Service: "test", SampleRatio: 1, RingTraces: 4})
	e := echo.New()
	e.Use(tel.Middleware())
	e.GET("/products/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	for i := range 3 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(fmt.Sprintf("MADEUP%d", i), "/products/p001", nil))
	}
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/products/p001", nil))
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	metrics := w.Body.String()
	if strings.Contains(metrics, "MADEUP") || !strings.Contains(metrics, `http_request_method="_OTHER"`) || !strings.Contains(metrics, `http_request_method="GET"`) {
		t.Errorf("the methods measured:\n%s", grepLines(metrics, "http_request_method"))
	}
	for _, tr := range tel.Ring.Recent() {
		if strings.Contains(tr.Root, "MADEUP") {
			t.Errorf("a trace is named %q", tr.Root)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// newTelemetry is telemetry.New(cfg), shut down when the test ends.
func newTelemetry(t *testing.T, cfg telemetry.Config) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel
}
