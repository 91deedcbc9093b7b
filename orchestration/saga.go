package orchestration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	// Pivot marks the step after which a run goes forward only: the steps
	// after it are made, not the steps before undone. A step after it that
	// fails with an outcome unknown (not a domain answer) leaves the run
	// unfinished, with ErrNotYet, for Resume to make it again (in a run
	// with a journal; one without is undone, since nothing could resume
	// it); so does any failure after it in a run its process left
	// unfinished.
	Pivot bool
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

// Phases of a step in a SagaRun.
const (
	PhaseStarted = "started" // the call is being made: its outcome is not known
	PhaseDone    = "done"
	PhaseFailed  = "failed"
	PhaseUndone  = "undone"  // its undo was made
	PhasePending = "pending" // its undo could not be made
)

// Directions a saga run goes in.
const (
	Forward  = "forward"
	Backward = "backward"
)

// StepRecord is one change of a step in a SagaRun.
type StepRecord struct {
	Step  string    `json:"step"`
	Phase string    `json:"phase"`
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// SagaRun is the record of one run of a saga, for a durable log: each step's
// changes in the order they happened, and the direction the run went.
type SagaRun struct {
	Records   []StepRecord `json:"records"`
	Direction string       `json:"direction"`
}

func (r *SagaRun) note(step, phase string, err error) {
	rec := StepRecord{Step: step, Phase: phase, At: time.Now().UTC()}
	if err != nil {
		rec.Error = err.Error()
	}
	r.Records = append(r.Records, rec)
}

// phases returns the last phase of each step.
func (r *SagaRun) phases() map[string]string {
	out := make(map[string]string, len(r.Records))
	for _, rec := range r.Records {
		out[rec.Step] = rec.Phase
	}
	return out
}

// Journal saves a run, and the saga's state, after every change of the run
// and before the saga goes on, so that another process can finish a run
// whose process died (Resume). An error wrapping ErrSagaTaken stops the saga
// where it is: another process owns the run now. Any other error is the
// failure of the step about to be made.
type Journal[S any] func(ctx context.Context, s *S, run *SagaRun) error

// ErrSagaTaken reports a saga run that another process has taken over (its
// owner was too slow to renew its claim): the owner must stop driving it.
var ErrSagaTaken = errors.New("the saga run was taken over by another process")

// ErrInterrupted is the cause of a saga that Resume undid: its process
// stopped before it finished.
var ErrInterrupted = errors.New("interrupted: the process running it stopped before it finished, so its steps were undone")

// ErrNotYet reports a run past its pivot whose next step failed: the run
// stays unfinished, to be resumed again later.
var ErrNotYet = errors.New("the saga could not go forward yet")

// Run runs the steps over s, in order, in a span "composite <name>". It
// returns the meta of the steps that ran, and a *SagaError when a required
// step failed.
func (sg *Saga[S]) Run(ctx context.Context, s *S) (Meta, error) {
	return sg.RunJournaled(ctx, s, &SagaRun{}, nil)
}

// RunJournaled is Run noting every step's progress in run (which starts
// empty), saved by journal as it goes; a nil journal saves nothing.
func (sg *Saga[S]) RunJournaled(ctx context.Context, s *S, run *SagaRun, j Journal[S]) (Meta, error) {
	ctx, span := sg.rt.composite(ctx, sg.name)
	defer span.End()
	return sg.forward(ctx, s, run, j, 0)
}

// Started reports whether the run has started the step named step.
func (r *SagaRun) Started(step string) bool {
	return slices.ContainsFunc(r.Records, func(rec StepRecord) bool { return rec.Step == step })
}

// Resume finishes a run that its process left unfinished, from its record:
// forward when the saga's pivot step is done and the run had not turned
// back (the remaining steps are made; one that fails leaves the run
// unfinished, with ErrNotYet, and the next Resume goes forward again),
// backward otherwise (the steps made, and those of unknown outcome whose
// undo allows it, are undone, those undone already are not; the error then
// wraps ErrInterrupted). It returns the direction it took.
func (sg *Saga[S]) Resume(ctx context.Context, s *S, run *SagaRun, j Journal[S]) (Meta, string, error) {
	ctx, span := sg.rt.composite(ctx, sg.name)
	defer span.End()
	phases := run.phases()
	pivoted := slices.ContainsFunc(sg.steps, func(st SagaStep[S]) bool { return st.Pivot && phases[st.Name] == PhaseDone })
	if pivoted && run.Direction != Backward {
		run.Direction = Forward
		for i, st := range sg.steps {
			if phases[st.Name] != PhaseDone {
				meta, err := sg.forward(ctx, s, run, j, i)
				return meta, Forward, err
			}
		}
		return Meta{Sources: map[string]Source{}}, Forward, nil
	}
	// Backward (the run failed, or stopped before the pivot): the last
	// step started is where it stopped.
	at := ""
	for _, rec := range run.Records {
		if slices.ContainsFunc(sg.steps, func(st SagaStep[S]) bool { return st.Name == rec.Step }) {
			at = rec.Step
		}
	}
	if at == "" && len(sg.steps) > 0 {
		at = sg.steps[0].Name
	}
	var done []*Undo[S]
	for _, st := range sg.steps {
		if st.Undo == nil || phases[st.Undo.Name] == PhaseUndone {
			continue
		}
		switch phases[st.Name] {
		case PhaseDone:
			done = append(done, st.Undo)
		case PhaseStarted, PhaseFailed:
			if st.UndoUnsure {
				done = append(done, st.Undo)
			}
		}
	}
	meta := Meta{Sources: map[string]Source{}}
	se := sg.fail(ctx, at, ErrInterrupted, done, s, meta, run, j)
	return se.Meta, Backward, se
}

// forward runs the steps from the one at index from, noting each in run.
func (sg *Saga[S]) forward(ctx context.Context, s *S, run *SagaRun, j Journal[S], from int) (Meta, error) {
	meta := Meta{Sources: make(map[string]Source, len(sg.steps))}
	resuming := from > 0 || len(run.Records) > 0
	pivoted := false
	var done []*Undo[S] // the undos of the steps made, oldest first
	save := func() error {
		if j == nil {
			return nil
		}
		return j(ctx, s, run)
	}
	for _, st := range sg.steps[from:] {
		if st.When != nil && !st.When(s) {
			continue
		}
		run.note(st.Name, PhaseStarted, nil)
		err := save()
		if errors.Is(err, ErrSagaTaken) {
			return meta, err
		}
		if err == nil {
			err = sg.step(ctx, st, s, &meta)
		}
		if errors.Is(err, ErrSkipRest) {
			run.note(st.Name, PhaseDone, nil)
			if err := save(); errors.Is(err, ErrSagaTaken) {
				return meta, err
			}
			return meta, nil
		}
		if err == nil || st.UndoUnsure && !domain.Is(err) {
			if st.Undo != nil {
				done = append(done, st.Undo)
			}
		}
		if err == nil {
			run.note(st.Name, PhaseDone, nil)
		} else {
			run.note(st.Name, PhaseFailed, err)
		}
		if serr := save(); errors.Is(serr, ErrSagaTaken) {
			return meta, serr
		}
		if err != nil && !st.Policy.Required {
			meta.Partial = true
			continue
		}
		if err == nil && st.Pivot {
			pivoted = true
		}
		// Past the pivot the run goes forward only: a step that failed
		// is made again later (Resume), unless its service refused it,
		// which says that it made nothing. Undoing the steps before it
		// could leave what the failed step made unpaid for.
		if err != nil && (resuming || pivoted && j != nil && !domain.Is(err)) {
			return meta, fmt.Errorf("%s at %s: %w: %w", sg.name, st.Name, ErrNotYet, err)
		}
		if err != nil {
			se := sg.fail(ctx, st.Name, err, done, s, meta, run, j)
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
// that cannot be made is reported as pending. Each is noted in run.
func (sg *Saga[S]) fail(ctx context.Context, step string, err error, done []*Undo[S], s *S, meta Meta, run *SagaRun, j Journal[S]) *SagaError {
	se := &SagaError{Saga: sg.name, Step: step, Err: err, Meta: meta}
	run.Direction = Backward
	for _, u := range slices.Backward(done) {
		_, span := sg.rt.span(ctx, "compensate", u.Name)
		uerr := sg.rt.Compensate(u.Service, func(ctx context.Context) error { return u.Do(ctx, s) })
		span.End()
		if uerr != nil {
			se.Pending = append(se.Pending, u.Name)
			run.note(u.Name, PhasePending, uerr)
		} else {
			se.Compensated = append(se.Compensated, u.Name)
			run.note(u.Name, PhaseUndone, nil)
		}
		if j != nil {
			_ = j(ctx, s, run) // a journal that failed keeps the run for recovery, which undoes again: undos are idempotent
		}
	}
	se.Meta.Partial = true
	return se
}
