package orchestration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/orchestration"
)

// ledger is a saga's state in these tests: what happened, in order.
type ledger struct{ log []string }

func (l *ledger) note(s string) { l.log = append(l.log, s) }

// step declares a saga step that notes its name and returns err; with an
// undo, the undo notes "undo <name>".
func step(name string, err error, undo bool) orchestration.SagaStep[ledger] {
	st := orchestration.SagaStep[ledger]{Name: name, Service: "svc", Policy: orchestration.Policy{Required: true},
		Do: func(_ context.Context, l *ledger) error { l.note(name); return err }}
	if undo {
		st.Undo = &orchestration.Undo[ledger]{Name: "undo_" + name, Service: "svc",
			Do: func(_ context.Context, l *ledger) error { l.note("undo " + name); return nil }}
	}
	return st
}

func runSaga(t *testing.T, steps ...orchestration.SagaStep[ledger]) (*ledger, orchestration.Meta, error) {
	t.Helper()
	sg, err := orchestration.NewSaga(orchestration.NewRuntime(orchestration.RuntimeConfig{}), "test", steps...)
	if err != nil {
		t.Fatal(err)
	}
	var l ledger
	meta, err := sg.Run(context.Background(), &l)
	return &l, meta, err
}

func TestSagaUndoesTheStepsMadeNewestFirst(t *testing.T) {
	l, meta, err := runSaga(t, step("a", nil, true), step("b", nil, false), step("c", nil, true), step("d", errBoom, true), step("e", nil, true))
	var se *orchestration.SagaError
	if !errors.As(err, &se) || se.Step != "d" || !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want a saga error at d wrapping boom", err)
	}
	if want := []string{"a", "b", "c", "d", "undo c", "undo a"}; !slices.Equal(l.log, want) {
		t.Errorf("ran %v, want %v", l.log, want)
	}
	if want := []string{"undo_c", "undo_a"}; !slices.Equal(se.Compensated, want) || len(se.Pending) != 0 {
		t.Errorf("compensated %v, pending %v; want %v", se.Compensated, se.Pending, want)
	}
	if !meta.Partial || meta.Sources["d"].Status != orchestration.StatusError || len(meta.Sources) != 4 {
		t.Errorf("meta = %+v, want partial with a, b, c, d", meta)
	}
	if !strings.HasPrefix(se.Error(), "test failed at d: boom; undone: undo_c, undo_a") {
		t.Errorf("message %q", se.Error())
	}
}

func TestSagaUndoesAStepWhoseOutcomeIsUnknown(t *testing.T) {
	answer := domain.New(domain.Rejected, "declined")
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"a lost answer is undone", errBoom, []string{"a", "b", "undo b", "undo a"}},
		{"a refusal made nothing to undo", answer, []string{"a", "b", "undo a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unsure := step("b", tc.err, true)
			unsure.UndoUnsure = true
			l, _, err := runSaga(t, step("a", nil, true), unsure)
			if !errors.Is(err, tc.err) || !slices.Equal(l.log, tc.want) {
				t.Errorf("err %v, ran %v; want %v", err, l.log, tc.want)
			}
		})
	}
}

func TestSagaSkipRestEndsItSuccessfully(t *testing.T) {
	l, meta, err := runSaga(t, step("a", nil, true), step("found", orchestration.ErrSkipRest, false), step("c", nil, true))
	if err != nil || !slices.Equal(l.log, []string{"a", "found"}) {
		t.Fatalf("err %v, ran %v; want a and found only, no error", err, l.log)
	}
	if meta.Partial || meta.Sources["found"].Status != orchestration.StatusOK || len(meta.Sources) != 2 {
		t.Errorf("meta = %+v", meta)
	}
}

func TestSagaOptionalStepsAndConditions(t *testing.T) {
	optional := step("notify", errBoom, false)
	optional.Policy.Required = false
	skipped := step("never", nil, true)
	skipped.When = func(*ledger) bool { return false }
	l, meta, err := runSaga(t, step("a", nil, true), skipped, optional, step("b", nil, false))
	if err != nil || !slices.Equal(l.log, []string{"a", "notify", "b"}) {
		t.Fatalf("err %v, ran %v", err, l.log)
	}
	if _, ok := meta.Sources["never"]; ok || !meta.Partial || meta.Sources["notify"].Status != orchestration.StatusError {
		t.Errorf("meta = %+v: want partial, notify failed, never absent", meta)
	}
}

func TestSagaReportsAnUndoItCannotMake(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{UndoFor: 50 * time.Millisecond})
	stuck := step("a", nil, true)
	stuck.Undo.Do = func(context.Context, *ledger) error { return errBoom }
	sg := orchestration.MustSaga(rt, "test", stuck, step("b", nil, true), step("c", errBoom, false))
	_, err := sg.Run(context.Background(), &ledger{})
	var se *orchestration.SagaError
	if !errors.As(err, &se) || !slices.Equal(se.Pending, []string{"undo_a"}) || !slices.Equal(se.Compensated, []string{"undo_b"}) {
		t.Fatalf("err = %#v, want undo_b compensated and undo_a pending", err)
	}
}

func TestNewSagaChecksItsSteps(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{Services: []string{"svc"}})
	elsewhere := step("b", nil, false)
	elsewhere.Service = "svcc"
	for name, steps := range map[string][]orchestration.SagaStep[ledger]{
		"a name used twice":  {step("a", nil, false), step("a", nil, false)},
		"an undo's name too": {step("a", nil, true), step("undo_a", nil, false)},
		"an unknown service": {step("a", nil, false), elsewhere},
	} {
		if _, err := orchestration.NewSaga(rt, "test", steps...); err == nil {
			t.Errorf("%s: NewSaga took it", name)
		}
	}
}

// journal keeps what a journal would save: the run after each change.
type journal struct{ saved []orchestration.SagaRun }

func (j *journal) save(_ context.Context, _ *ledger, run *orchestration.SagaRun) error {
	j.saved = append(j.saved, orchestration.SagaRun{Records: slices.Clone(run.Records), Direction: run.Direction})
	return nil
}

// crashAfter returns the run as it was saved after n changes: what a log
// holds when the process dies then.
func (j *journal) crashAfter(n int) *orchestration.SagaRun {
	r := j.saved[n-1]
	return &r
}

func TestSagaJournalsEveryChange(t *testing.T) {
	var j journal
	sg := orchestration.MustSaga(orchestration.NewRuntime(orchestration.RuntimeConfig{}), "test",
		step("a", nil, true), step("b", errBoom, false))
	_, err := sg.RunJournaled(context.Background(), &ledger{}, &orchestration.SagaRun{}, j.save)
	if err == nil {
		t.Fatal("want b's failure")
	}
	var got []string
	for _, r := range j.saved[len(j.saved)-1].Records {
		got = append(got, r.Step+":"+r.Phase)
	}
	if want := []string{"a:started", "a:done", "b:started", "b:failed", "undo_a:undone"}; !slices.Equal(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	if len(j.saved) != 5 || j.saved[4].Direction != orchestration.Backward {
		t.Errorf("%d saves, last direction %q; want one per change, backward", len(j.saved), j.saved[4].Direction)
	}
}

func TestResumeGoesForwardPastThePivotAndBackBeforeIt(t *testing.T) {
	pivot := step("commit", nil, false)
	pivot.Pivot = true
	unsure := step("charge", nil, true)
	unsure.UndoUnsure = true
	steps := []orchestration.SagaStep[ledger]{step("reserve", nil, true), unsure, pivot, step("order", nil, false)}
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	sg := orchestration.MustSaga(rt, "test", steps...)
	var j journal
	if _, err := sg.RunJournaled(context.Background(), &ledger{}, &orchestration.SagaRun{}, j.save); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		saves  int // the changes saved before the crash
		dir    string
		ran    []string
		target error
	}{
		{"died after the commit", 6, orchestration.Forward, []string{"order"}, nil},
		{"died while ordering", 7, orchestration.Forward, []string{"order"}, nil},
		{"died while charging", 3, orchestration.Backward, []string{"undo charge", "undo reserve"}, orchestration.ErrInterrupted},
		{"died after reserving", 2, orchestration.Backward, []string{"undo reserve"}, orchestration.ErrInterrupted},
		{"died while committing", 5, orchestration.Backward, []string{"undo charge", "undo reserve"}, orchestration.ErrInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l ledger
			_, dir, err := sg.Resume(context.Background(), &l, j.crashAfter(tc.saves), nil)
			if dir != tc.dir || !slices.Equal(l.log, tc.ran) || !errors.Is(err, tc.target) && (err != nil || tc.target != nil) {
				t.Errorf("went %s, ran %v, err %v; want %s, %v, %v", dir, l.log, err, tc.dir, tc.ran, tc.target)
			}
		})
	}
	// Forward, the next step failing leaves the run for later.
	failing := slices.Clone(steps)
	failing[3] = step("order", errBoom, false)
	run := j.crashAfter(6)
	_, dir, err := orchestration.MustSaga(rt, "test", failing...).Resume(context.Background(), &ledger{}, run, nil)
	if dir != orchestration.Forward || !errors.Is(err, orchestration.ErrNotYet) {
		t.Errorf("forward past a failing step: %s, %v; want forward and ErrNotYet", dir, err)
	}
	// The next Resume goes forward again: a step that failed after the
	// pivot is made again, nothing is undone.
	var l ledger
	if _, dir, err := sg.Resume(context.Background(), &l, run, nil); dir != orchestration.Forward || err != nil || !slices.Equal(l.log, []string{"order"}) {
		t.Errorf("the second Resume: %s, %v, ran %v; want forward, the order only", dir, err, l.log)
	}
}

func TestARunPastThePivotGoesForwardOnly(t *testing.T) {
	pivot := step("commit", nil, false)
	pivot.Pivot = true
	refused := domain.New(domain.Rejected, "refused")
	for _, tc := range []struct {
		name    string
		err     error
		journal bool
		ran     []string
		target  error
	}{
		{"a lost answer is made again later", errBoom, true, []string{"reserve", "commit", "order"}, orchestration.ErrNotYet},
		{"a refusal made nothing: undone", refused, true, []string{"reserve", "commit", "order", "undo reserve"}, refused},
		{"without a journal nothing could resume it: undone", errBoom, false, []string{"reserve", "commit", "order", "undo reserve"}, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sg := orchestration.MustSaga(orchestration.NewRuntime(orchestration.RuntimeConfig{}), "test",
				step("reserve", nil, true), pivot, step("order", tc.err, false))
			var (
				l ledger
				j journal
			)
			save := j.save
			if !tc.journal {
				save = nil
			}
			_, err := sg.RunJournaled(context.Background(), &l, &orchestration.SagaRun{}, save)
			if !errors.Is(err, tc.target) || !slices.Equal(l.log, tc.ran) {
				t.Errorf("err %v, ran %v; want %v, %v", err, l.log, tc.target, tc.ran)
			}
		})
	}
}

func TestATakenSagaStopsWhereItIs(t *testing.T) {
	saves := 0
	taken := func(context.Context, *ledger, *orchestration.SagaRun) error {
		if saves++; saves > 2 {
			return fmt.Errorf("log: %w", orchestration.ErrSagaTaken)
		}
		return nil
	}
	var l ledger
	_, err := orchestration.MustSaga(orchestration.NewRuntime(orchestration.RuntimeConfig{}), "test",
		step("a", nil, true), step("b", nil, true), step("c", nil, true)).RunJournaled(context.Background(), &l, &orchestration.SagaRun{}, taken)
	if !errors.Is(err, orchestration.ErrSagaTaken) || !slices.Equal(l.log, []string{"a"}) {
		t.Errorf("err %v, ran %v; want a only, and the saga taken, with nothing undone", err, l.log)
	}
}
