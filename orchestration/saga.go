package orchestration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/atrium-bff/atrium/internal/domain"
)

// SagaStep is one local step of a Saga over state S: a call to one
// service, and how to undo it.
type SagaStep[S any] struct {
	// Name names the step in _meta and in a failed saga's error.
	Name string
	// Service is the downstream service: its breaker and retry budget.
	Service string
	// Policy bounds the step's attempts. A step whose policy is not
	// Required may fail without failing the saga (the answer is then
	// partial). Hedging never applies: Do stores into the state.
	Policy Policy
	// Read marks a step without effects: it may be retried as Policy says.
	// Steps with effects are tried once.
	Read bool
	// When, if not nil, says whether the step runs for this state; a step
	// that does not run is left out of the meta.
	When func(s *S) bool
	// Do makes the call and stores its result into the state. Returning
	// ErrSkipRest ends the saga successfully after this step.
	Do func(ctx context.Context, s *S) error
	// Undo, when not nil, undoes the step when a later step fails. It also
	// runs when Do itself failed with an error that is not a domain answer
	// and UndoUnsure is set: a timeout or a lost connection leaves the
	// step's effect unknown, and an undo that finds nothing to undo is
	// harmless.
	Undo       *Undo[S]
	UndoUnsure bool
}

// Undo is a compensating call: idempotent, so it can be retried until it
// succeeds.
type Undo[S any] struct {
	// Name names the compensation in a failed saga's error.
	Name string
	// Service is the downstream service it calls.
	Service string
	// Do makes the call. A domain error (already undone, not found) counts
	// as done.
	Do func(ctx context.Context, s *S) error
}

// ErrSkipRest, returned by a step's Do, ends the saga there, successfully: for
// a step that finds the saga's work already done.
var ErrSkipRest = errors.New("skip the saga's remaining steps")

// Saga runs local steps one after another, each with its undo: when a
// required step fails, the undos of the steps before it run, newest first.
// Build it once with NewSaga; Run it once per request with a fresh state.
type Saga[S any] struct {
	rt    *Runtime
	name  string
	steps []SagaStep[S]
}

// NewSaga checks and returns a saga named name (the composite's name in
// spans and in its errors). Step and undo names must be unique and every
// service known to the runtime.
func NewSaga[S any](rt *Runtime, name string, steps ...SagaStep[S]) (*Saga[S], error) {
	seen := map[string]bool{}
	for i, st := range steps {
		names := []string{st.Name}
		services := []string{st.Service}
		if st.Undo != nil {
			names, services = append(names, st.Undo.Name), append(services, st.Undo.Service)
		}
		for _, n := range names {
			if n == "" || seen[n] {
				return nil, fmt.Errorf("saga %s: step %d: name %q is empty or used twice", name, i, n)
			}
			seen[n] = true
		}
		for _, svc := range services {
			if err := rt.known(svc); err != nil {
				return nil, fmt.Errorf("saga %s: step %q: %w", name, st.Name, err)
			}
		}
		if st.Do == nil || st.Undo != nil && st.Undo.Do == nil {
			return nil, fmt.Errorf("saga %s: step %q has no Do", name, st.Name)
		}
	}
	return &Saga[S]{rt: rt, name: name, steps: steps}, nil
}

// MustSaga is NewSaga for sagas fixed in the code, which tests check.
func MustSaga[S any](rt *Runtime, name string, steps ...SagaStep[S]) *Saga[S] {
	sg, err := NewSaga(rt, name, steps...)
	if err != nil {
		panic(err)
	}
	return sg
}

// SagaError is a failed saga: the step that failed, the compensations that
// undid the steps before it, those that could not be made (Pending), and
// the cause.
type SagaError struct {
	Saga        string
	Step        string
	Compensated []string
	Pending     []string
	Err         error
	Meta        Meta
}

func (e *SagaError) Error() string {
	msg := fmt.Sprintf("%s failed at %s: %v", e.Saga, e.Step, e.Err)
	if len(e.Compensated) > 0 {
		msg += "; undone: " + strings.Join(e.Compensated, ", ")
	}
	if len(e.Pending) > 0 {
		msg += "; could not undo: " + strings.Join(e.Pending, ", ")
	}
	return msg
}

func (e *SagaError) Unwrap() error { return e.Err }

// Run runs the steps over s, in order, in a span "composite <name>". It
// returns the meta of the steps that ran, and a *SagaError when a required
// step failed.
func (sg *Saga[S]) Run(ctx context.Context, s *S) (Meta, error) {
	ctx, span := sg.rt.composite(ctx, sg.name)
	defer span.End()
	meta := Meta{Sources: make(map[string]Source, len(sg.steps))}
	var done []*Undo[S] // the undos of the steps made, oldest first
	for _, st := range sg.steps {
		if st.When != nil && !st.When(s) {
			continue
		}
		err := sg.step(ctx, st, s, &meta)
		if errors.Is(err, ErrSkipRest) {
			return meta, nil
		}
		if err == nil || st.UndoUnsure && !domain.Is(err) {
			if st.Undo != nil {
				done = append(done, st.Undo)
			}
		}
		if err != nil && !st.Policy.Required {
			meta.Partial = true
			continue
		}
		if err != nil {
			se := sg.fail(ctx, st.Name, err, done, s, meta)
			return se.Meta, se
		}
	}
	return meta, nil
}

// step runs one step and records it in the meta.
func (sg *Saga[S]) step(ctx context.Context, st SagaStep[S], s *S, meta *Meta) error {
	p := st.Policy
	p.Hedge = false
	skip := false
	src, err := sg.rt.observe(ctx, st.Name, st.Service, p.Required, func(ctx context.Context) (Source, error) {
		_, src, err := sg.rt.execute(ctx, st.Service, st.Name, p, st.Read, func(ctx context.Context) (any, error) {
			err := st.Do(ctx, s)
			if errors.Is(err, ErrSkipRest) { // an answer, not a failure to retry or count
				skip, err = true, nil
			}
			return nil, err
		})
		return src, err
	})
	meta.Sources[st.Name] = src
	if err == nil && skip {
		return ErrSkipRest
	}
	return err
}

// fail undoes the steps done, newest first, and returns the failure. An
// undo is retried until it succeeds or RuntimeConfig.UndoFor runs out; one
// that cannot be made is reported as pending.
func (sg *Saga[S]) fail(ctx context.Context, step string, err error, done []*Undo[S], s *S, meta Meta) *SagaError {
	se := &SagaError{Saga: sg.name, Step: step, Err: err, Meta: meta}
	for _, u := range slices.Backward(done) {
		_, span := sg.rt.span(ctx, "compensate", u.Name)
		uerr := sg.rt.Compensate(u.Service, func(ctx context.Context) error { return u.Do(ctx, s) })
		span.End()
		if uerr != nil {
			se.Pending = append(se.Pending, u.Name)
		} else {
			se.Compensated = append(se.Compensated, u.Name)
		}
	}
	se.Meta.Partial = true
	return se
}
