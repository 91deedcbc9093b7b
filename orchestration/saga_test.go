package orchestration_test

import (
	"context"
	"errors"
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
