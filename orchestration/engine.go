// Package orchestration is atrium's fan-out/merge engine and the composite
// endpoints built on it. A composite is a set of named calls to downstream
// services; independent calls run in parallel, and each call's policy says
// whether the composite can answer without it. The engine knows no domain:
// the composites (one per file) do, through the services' Service
// interfaces only, never their HTTP code.
package orchestration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/atrium-bff/atrium/internal/hop"
)

// Status is the outcome of one source of a composite.
type Status string

// Source statuses, as reported in _meta.
const (
	StatusOK          Status = "ok"
	StatusError       Status = "error"
	StatusTimeout     Status = "timeout"
	StatusCircuitOpen Status = "circuit_open"
	StatusCached      Status = "cached"
	StatusSkipped     Status = "skipped"
)

// InProcess is the instance reported for a call served inside the process.
const InProcess = "in-process"

// Source reports how one source of a composite went.
type Source struct {
	Status     Status  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Instance   string  `json:"instance"`
	Attempts   int     `json:"attempts"`
	Error      string  `json:"error,omitempty"`
}

// Meta is a composite's _meta: whether the answer lacks optional parts, and
// how each source went.
type Meta struct {
	Partial bool              `json:"partial"`
	Sources map[string]Source `json:"sources"`
}

// Call is one named downstream call of a composite.
type Call struct {
	// Name names the source in _meta and Server-Timing.
	Name string
	// Required calls fail the composite when they fail; optional ones leave
	// their part empty and mark the answer partial.
	Required bool
	// Timeout bounds the call. Zero means only the composite's deadline.
	Timeout time.Duration
	// Do makes the call and stores its result where the composite reads it.
	// It must honour ctx.
	Do func(ctx context.Context) error
}

// SourceError is the error of a required call that failed.
type SourceError struct {
	Source string
	Status Status
	Err    error
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("required source %s: %s: %v", e.Source, e.Status, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// Run runs calls in parallel and reports each in the returned Meta. When a
// required call fails, Run cancels the others and returns its *SourceError;
// a failed optional call only sets Meta.Partial.
func Run(ctx context.Context, calls ...Call) (Meta, error) {
	results := make([]Source, len(calls))
	g, gctx := errgroup.WithContext(ctx)
	for i, call := range calls {
		g.Go(func() error {
			src, err := run(gctx, call)
			results[i] = src
			if err != nil && call.Required {
				return &SourceError{Source: call.Name, Status: src.Status, Err: err}
			}
			return nil
		})
	}
	err := g.Wait()
	meta := Meta{Sources: make(map[string]Source, len(calls))}
	for i, call := range calls {
		meta.Sources[call.Name] = results[i]
		if results[i].Status != StatusOK {
			meta.Partial = true
		}
	}
	return meta, err
}

func run(ctx context.Context, call Call) (Source, error) {
	ctx, rec := hop.WithRecord(ctx)
	if call.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, call.Timeout)
		defer cancel()
	}
	start := time.Now()
	err := call.Do(ctx)
	src := Source{
		Status:     StatusOK,
		DurationMS: float64(time.Since(start).Microseconds()) / 1000,
		Instance:   rec.Instance(),
		Attempts:   1,
	}
	if src.Instance == "" {
		src.Instance = InProcess
	}
	if err != nil {
		src.Status = classify(ctx, err)
		src.Error = err.Error()
	}
	return src, err
}

func classify(ctx context.Context, err error) Status {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return StatusTimeout
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return StatusSkipped // another call failed the composite first
	}
	return StatusError
}

// ServerTiming renders meta as a Server-Timing header value, so the
// sources' timings show in a browser's developer tools.
func ServerTiming(meta Meta, total time.Duration) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(meta.Sources)) {
		s := meta.Sources[name]
		b.WriteString(name)
		b.WriteString(";desc=")
		b.WriteString(string(s.Status))
		b.WriteString(";dur=")
		b.WriteString(strconv.FormatFloat(s.DurationMS, 'f', 3, 64))
		b.WriteString(", ")
	}
	b.WriteString("total;dur=")
	b.WriteString(strconv.FormatFloat(float64(total.Microseconds())/1000, 'f', 3, 64))
	return b.String()
}
