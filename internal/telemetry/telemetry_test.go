package telemetry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atrium-bff/atrium/internal/telemetry"
)

func TestRingKeepsTheNewestTraces(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "test", RingTraces: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
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
	tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "test", SampleRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
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
	tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
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
