package telemetry

import (
	"context"
	"sort"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Span is a finished span as the traces API shows it.
type Span struct {
	TraceID    string            `json:"trace_id"`
	SpanID     string            `json:"span_id"`
	ParentID   string            `json:"parent_span_id,omitempty"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Service    string            `json:"service"`
	Start      time.Time         `json:"start"`
	DurationMS float64           `json:"duration_ms"`
	Status     string            `json:"status"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// TraceSummary is one line of the recent traces.
type TraceSummary struct {
	TraceID    string    `json:"trace_id"`
	Root       string    `json:"root"`
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"duration_ms"`
	Spans      int       `json:"spans"`
}

// maxSpansPerTrace bounds one trace in the ring.
const maxSpansPerTrace = 1024

// Ring keeps the spans of the most recent traces in memory. It is a span
// processor: it records each sampled span when it ends. Safe for
// concurrent use.
type Ring struct {
	service string
	size    int

	mu     sync.Mutex
	traces map[trace.TraceID][]Span
	order  []trace.TraceID // oldest first
}

// NewRing returns a ring of size traces, naming spans with service.
func NewRing(size int, service string) *Ring {
	return &Ring{service: service, size: size, traces: map[trace.TraceID][]Span{}}
}

// OnStart implements sdktrace.SpanProcessor.
func (r *Ring) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor.
func (r *Ring) OnEnd(s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	span := Span{
		TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), Name: s.Name(),
		Kind: s.SpanKind().String(), Service: r.service, Start: s.StartTime(),
		DurationMS: float64(s.EndTime().Sub(s.StartTime()).Microseconds()) / 1000,
		Status:     s.Status().Code.String(),
	}
	if p := s.Parent(); p.IsValid() {
		span.ParentID = p.SpanID().String()
	}
	if attrs := s.Attributes(); len(attrs) > 0 {
		span.Attributes = make(map[string]string, len(attrs))
		for _, a := range attrs {
			span.Attributes[string(a.Key)] = a.Value.String()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := sc.TraceID()
	spans, ok := r.traces[id]
	if !ok {
		if len(r.order) == r.size {
			delete(r.traces, r.order[0])
			r.order = r.order[1:]
		}
		r.order = append(r.order, id)
	}
	if len(spans) < maxSpansPerTrace {
		r.traces[id] = append(spans, span)
	}
}

// Shutdown implements sdktrace.SpanProcessor.
func (r *Ring) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (r *Ring) ForceFlush(context.Context) error { return nil }

// Trace returns the spans of a trace this process recorded, by start time.
func (r *Ring) Trace(id string) []Span {
	tid, err := trace.TraceIDFromHex(id)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	spans := append([]Span(nil), r.traces[tid]...)
	r.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return spans
}

// Recent summarises the recent traces, newest first.
func (r *Ring) Recent() []TraceSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TraceSummary, 0, len(r.order))
	for i := len(r.order) - 1; i >= 0; i-- {
		out = append(out, summarise(r.traces[r.order[i]]))
	}
	return out
}

// summarise describes a trace by its earliest span and overall extent.
func summarise(spans []Span) TraceSummary {
	if len(spans) == 0 {
		return TraceSummary{}
	}
	first, end := spans[0], spans[0].Start
	for _, s := range spans {
		if s.Start.Before(first.Start) || s.ParentID == "" && first.ParentID != "" {
			first = s
		}
		if e := s.Start.Add(time.Duration(s.DurationMS * float64(time.Millisecond))); e.After(end) {
			end = e
		}
	}
	start := first.Start
	for _, s := range spans {
		if s.Start.Before(start) {
			start = s.Start
		}
	}
	return TraceSummary{TraceID: first.TraceID, Root: first.Name, Start: start,
		DurationMS: float64(end.Sub(start).Microseconds()) / 1000, Spans: len(spans)}
}

var _ sdktrace.SpanProcessor = (*Ring)(nil)
