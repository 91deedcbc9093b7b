package sagalog_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
)

// log is what the checkout asks of a saga log.
type log interface {
	Claim(ctx context.Context, id, owner string, lease time.Duration, state []byte) (sagalog.Entry, bool, error)
	Save(ctx context.Context, id, owner string, lease time.Duration, state []byte, run *orchestration.SagaRun) error
	Finish(ctx context.Context, id, owner string, state []byte, run *orchestration.SagaRun, status int, answer []byte) error
	Renew(ctx context.Context, id, owner string, lease time.Duration) error
	Release(ctx context.Context, id, owner string) error
	Get(ctx context.Context, id string) (sagalog.Entry, error)
	Stale(ctx context.Context, n int) ([]string, error)
	Unfinished(ctx context.Context) (int, error)
}

// logs returns two views of one log: the same one for memory; for SQLite
// and PostgreSQL, two opens of one database, as two gateways have.
var logs = map[string]func(t *testing.T) (log, log){
	"memory": func(*testing.T) (log, log) { m := new(sagalog.Memory); return m, m },
	"sqlite": func(t *testing.T) (log, log) { return twice(t, sqldb.Place(t.TempDir(), "", "sagas")) },
	"postgres": func(t *testing.T) (log, log) {
		return twice(t, sqldb.Place("", testkit.Postgres(t).Database(t), "sagas"))
	},
}

// twice opens the log at where twice.
func twice(t *testing.T, where string) (log, log) {
	a, err := sagalog.Open(where)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sagalog.Open(where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestConformance(t *testing.T) {
	ctx := context.Background()
	for name, open := range logs {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			e, claimed, err := a.Claim(ctx, "u01/k1", "gw-a", time.Minute, []byte(`{"user":"u01"}`))
			if err != nil || !claimed || e.Owner != "gw-a" || string(e.State) != `{"user":"u01"}` {
				t.Fatalf("a new run: %+v, %v, %v", e, claimed, err)
			}
			if _, claimed, _ := b.Claim(ctx, "u01/k1", "gw-b", time.Minute, nil); claimed {
				t.Error("another owner claimed a run whose lease is live")
			}
			run := &orchestration.SagaRun{Records: []orchestration.StepRecord{{Step: "reserve", Phase: orchestration.PhaseDone}}}
			if err := a.Save(ctx, "u01/k1", "gw-a", time.Minute, []byte(`{"res":"r1"}`), run); err != nil {
				t.Fatal(err)
			}
			if err := b.Save(ctx, "u01/k1", "gw-b", time.Minute, nil, run); !errors.Is(err, orchestration.ErrSagaTaken) {
				t.Errorf("a save by a non-owner: %v, want ErrSagaTaken", err)
			}
			got, err := b.Get(ctx, "u01/k1")
			if err != nil || string(got.State) != `{"res":"r1"}` || len(got.Run.Records) != 1 || got.Done {
				t.Errorf("the other view reads %+v, %v", got, err)
			}
			if n, _ := b.Unfinished(ctx); n != 1 {
				t.Errorf("%d unfinished, want 1", n)
			}
			if stale, _ := b.Stale(ctx, 10); len(stale) != 0 {
				t.Errorf("stale %v while the lease lives", stale)
			}

			// The owner dies: its lease runs out, and the other takes over.
			if err := a.Release(ctx, "u01/k1", "gw-a"); err != nil {
				t.Fatal(err)
			}
			if stale, _ := b.Stale(ctx, 10); !slices.Equal(stale, []string{"u01/k1"}) {
				t.Errorf("stale %v, want the released run", stale)
			}
			e, claimed, err = b.Claim(ctx, "u01/k1", "gw-b", time.Minute, nil)
			if err != nil || !claimed || e.Owner != "gw-b" || string(e.State) != `{"res":"r1"}` || len(e.Run.Records) != 1 {
				t.Fatalf("the takeover: %+v, %v, %v", e, claimed, err)
			}
			if err := a.Renew(ctx, "u01/k1", "gw-a", time.Minute); !errors.Is(err, orchestration.ErrSagaTaken) {
				t.Errorf("the old owner renewed: %v", err)
			}
			if err := b.Finish(ctx, "u01/k1", "gw-b", []byte(`{}`), run, 201, []byte(`{"order":"o1"}`)); err != nil {
				t.Fatal(err)
			}
			e, claimed, _ = a.Claim(ctx, "u01/k1", "gw-a", time.Minute, nil)
			if claimed || !e.Done || e.Status != 201 || string(e.Answer) != `{"order":"o1"}` {
				t.Errorf("a finished run: %+v, claimed %v; want its answer, unclaimed", e, claimed)
			}
			if err := b.Save(ctx, "u01/k1", "gw-b", time.Minute, nil, run); !errors.Is(err, orchestration.ErrSagaTaken) {
				t.Errorf("a save after the finish: %v", err)
			}
			if _, err := a.Get(ctx, "nope"); !errors.Is(err, sagalog.ErrNotFound) {
				t.Errorf("an unknown run: %v", err)
			}
		})
	}
}

func TestOneClaimWinsARace(t *testing.T) {
	for name, open := range logs {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			var wins sync.Map
			var wg sync.WaitGroup
			for i := range 8 {
				l := a
				if i%2 == 1 {
					l = b
				}
				wg.Go(func() {
					owner := string(rune('a' + i))
					if _, claimed, err := l.Claim(context.Background(), "u02/race", owner, time.Minute, []byte(`{}`)); err != nil {
						t.Error(err)
					} else if claimed {
						wins.Store(owner, true)
					}
				})
			}
			wg.Wait()
			n := 0
			wins.Range(func(any, any) bool { n++; return true })
			if n != 1 {
				t.Errorf("%d owners claimed one new run, want 1", n)
			}
		})
	}
}
