// Package orchestration is atrium's fan-out/merge engine. It knows no
// service, no domain and no HTTP: it runs named calls that the caller
// declares.
//
// A Plan is a composite read: a list of steps (Fetch for reads, Do for
// calls with effects), each naming the steps it waits for. Independent
// steps run in parallel; each step's Policy says whether the composite can
// answer without it (a partial answer is a normal result, reported in
// Meta), how long an attempt may take, and whether a read is retried,
// cached, coalesced or hedged. A Saga is a list of local steps with effects,
// run one after another, each with its Undo, run newest first when a later
// step fails.
//
// A Runtime holds what calls to one service share across plans and
// requests: its circuit breaker and retry budget, the response cache, the
// reads in flight to coalesce. The store's composites, written with this
// engine against the services' contracts, are in package composite.
package orchestration

import (
	"context"
	"errors"
	"fmt"

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
