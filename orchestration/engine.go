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

	"github.com/sony/gobreaker/v2"
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

// Source reports how one source of a composite went: its status, how long
// it took, the instance that answered, how many requests it sent, whether
// the answer came from the cache ("hit", or "stale" with status cached), and
// the error of a failed source.
type Source struct {
	Status     Status  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Instance   string  `json:"instance"`
	Attempts   int     `json:"attempts"`
	Cache      string  `json:"cache,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// Meta is a composite's _meta: whether the answer lacks optional parts, and
// how each source went.
type Meta struct {
	Partial bool              `json:"partial"`
	Sources map[string]Source `json:"sources"`
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

func classify(ctx context.Context, err error) Status {
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return StatusCircuitOpen
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
