package composite_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/users"
)

// freezingLog is a gateway's saga log that stops answering — as a process
// that died would — once a save shows step done: the run stays in the
// file as it was then, its claim running out.
type freezingLog struct {
	*sagalog.Log
	after  string
	frozen chan struct{} // closed once frozen
	thaw   chan struct{} // closed at the test's end, to free the goroutine
	once   sync.Once
}

func (f *freezingLog) Save(ctx context.Context, id, owner string, lease time.Duration, state []byte, run *orchestration.SagaRun) error {
	select {
	case <-f.frozen:
		<-f.thaw
		return orchestration.ErrSagaTaken
	default:
	}
	if err := f.Log.Save(ctx, id, owner, lease, state, run); err != nil {
		return err
	}
	last := run.Records[len(run.Records)-1]
	if last.Step == f.after && last.Phase == orchestration.PhaseDone {
		f.once.Do(func() { close(f.frozen) })
		<-f.thaw
		return orchestration.ErrSagaTaken
	}
	return nil
}

func (f *freezingLog) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	select {
	case <-f.frozen:
		return orchestration.ErrSagaTaken // a dead process renews nothing
	default:
		return f.Log.Renew(ctx, id, owner, lease)
	}
}

func openLog(t *testing.T, path string) *sagalog.Log {
	t.Helper()
	l, err := sagalog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dieAfter starts a checkout on a gateway whose process dies once step is
// done, and returns when it has.
func dieAfter(t *testing.T, path, step, user, key string, c func(composite.Config) *composite.Composer) {
	t.Helper()
	dying := &freezingLog{Log: openLog(t, path), after: step, frozen: make(chan struct{}), thaw: make(chan struct{})}
	t.Cleanup(func() { close(dying.thaw) })
	go c(composite.Config{Log: dying, Owner: "dead", Lease: 300 * time.Millisecond}).Checkout(context.Background(), user, key)
	select {
	case <-dying.frozen:
	case <-time.After(10 * time.Second):
		t.Fatalf("the checkout never got past %s", step)
	}
}

func TestARunWhoseGatewayDiedIsFinishedByAnother(t *testing.T) {
	for _, tc := range []struct {
		name, diedAfter string
		direction       string
		placed          bool
	}{
		{"after the commit: forward, to the order", composite.StepCommit, orchestration.Forward, true},
		{"after the charge: backward, refunded and released", composite.StepCharge, orchestration.Backward, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc := localServices(t)
			before := fillCart(t, svc, "u09", "p007", 3)
			path := filepath.Join(t.TempDir(), "sagas.db")
			dieAfter(t, path, tc.diedAfter, "u09", "died-1", func(cfg composite.Config) *composite.Composer { return composite.New(svc, cfg) })

			// The cart changes after the crash: a forward recovery must order the snapshot.
			fillCart(t, svc, "u09", "p008", 1)
			survivor := composite.New(svc, composite.Config{Log: openLog(t, path), Owner: "alive", Lease: time.Second})
			rctx, stop := context.WithCancel(ctx)
			defer stop()
			go survivor.Recover(rctx, 50*time.Millisecond)
			var rep composite.Report
			waitFor(t, "the run to be recovered", func() bool {
				rep, _ = survivor.Runs(ctx)
				return rep.Unfinished == 0 && rep.Recovered[tc.direction] == 1
			})
			if rep.Recent[0].ID != "u09/died-1" || rep.Recent[0].Direction != tc.direction {
				t.Errorf("recovered %+v", rep.Recent)
			}

			// The key's answer, on any gateway, is the recovered one.
			a, err := survivor.Checkout(ctx, "u09", "died-1")
			if err != nil || !a.Replayed {
				t.Fatalf("the key's answer: %+v, %v", a, err)
			}
			after, _ := svc.Inventory.Stock(ctx, "p007")
			ch, cerr := svc.Payments.ByKey(ctx, "died-1")
			if tc.placed {
				var placed struct{ Order orders.Order }
				json.Unmarshal(a.Body, &placed)
				if a.Status != 201 || len(placed.Order.Lines) != 1 || placed.Order.Lines[0].ProductID != "p007" {
					t.Errorf("answer %d %s: want the order of the snapshot (3 of p007), not of the cart now", a.Status, a.Body)
				}
				if after.Sold != before.Sold+3 || cerr != nil || ch.Status != payments.StatusSucceeded {
					t.Errorf("stock %+v (before %+v), charge %+v %v: want 3 sold and the charge kept", after, before, ch, cerr)
				}
			} else {
				if a.Status < 500 || !strings.Contains(string(a.Body), "interrupted") {
					t.Errorf("answer %d %s: want the interrupted checkout's failure", a.Status, a.Body)
				}
				if after != before || cerr != nil || ch.Status != payments.StatusRefunded {
					t.Errorf("stock %+v (before %+v), charge %+v %v: want the stock back and the charge refunded", after, before, ch, cerr)
				}
			}
		})
	}
}

func TestAKeysFinalAnswerOutlivesItsGateway(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	path := filepath.Join(t.TempDir(), "sagas.db")
	fillCart(t, svc, "u10", "p009", 1)
	first := composite.New(svc, composite.Config{Log: openLog(t, path), Owner: "first", Answer: answerWithCode})
	declined := payments.ErrDeclined
	broken := svc
	broken.Payments = decliningPayments{svc.Payments, declined}
	firstBroken := composite.New(broken, composite.Config{Log: openLog(t, path), Owner: "first", Answer: answerWithCode})
	a1, err := firstBroken.Checkout(ctx, "u10", "declined-1")
	if err != nil || a1.Status != 402 {
		t.Fatalf("a declined checkout: %d %s %v", a1.Status, a1.Body, err)
	}
	// Another gateway, after the payment works again and the cart changed:
	// the same key is the same answer, byte for byte.
	fillCart(t, svc, "u10", "p010", 1)
	second := composite.New(svc, composite.Config{Log: openLog(t, path), Owner: "second", Answer: answerWithCode})
	for _, c := range []*composite.Composer{first, second} {
		a, err := c.Checkout(ctx, "u10", "declined-1")
		if err != nil || !a.Replayed || a.Status != a1.Status || !slices.Equal(a.Body, a1.Body) {
			t.Errorf("the replay: %d %s %v; want %d %s", a.Status, a.Body, err, a1.Status, a1.Body)
		}
	}
	// A failure before anything was done is not final: a retry runs again.
	down := svc
	down.Users = goneUsers{svc.Users}
	if a, _ := composite.New(down, composite.Config{Log: openLog(t, path), Answer: answerWithCode}).Checkout(ctx, "u10", "retry-1"); a.Status != 502 {
		t.Fatalf("users down: %d %s, want 502", a.Status, a.Body)
	}
	if a, err := second.Checkout(ctx, "u10", "retry-1"); err != nil || a.Replayed || a.Status != 201 {
		t.Errorf("the retry once users are back: %d %s %v, want a fresh 201", a.Status, a.Body, err)
	}
}

// decliningPayments declines every charge with err.
type decliningPayments struct {
	payments.Service
	err error
}

func (d decliningPayments) Charge(context.Context, payments.ChargeRequest) (payments.Charge, error) {
	return payments.Charge{}, d.err
}

// goneUsers is a users service that cannot be reached.
type goneUsers struct{ users.Service }

func (goneUsers) User(context.Context, string) (users.User, error) {
	return users.User{}, errors.New("users: could not be reached")
}

// answerWithCode renders a result as the edge does, in short: the status of
// a domain error's kind, 502 for any other.
func answerWithCode(res composite.Checkout, err error) (int, []byte) {
	if err == nil {
		b, _ := json.Marshal(res)
		return 201, b
	}
	status := 502
	if k := domain.KindOf(err); k != 0 {
		status = k.Status()
	}
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return status, b
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

func TestTheReconcilerRepairsWhatNoOrderClaims(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	// Left behind by a checkout whose log was lost: money taken, stock sold, no order.
	ch, err := svc.Payments.Charge(ctx, payments.ChargeRequest{UserID: "u11", AmountCents: 999, Currency: "EUR", Key: "lost-1"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Inventory.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: "p011", Quantity: 1}}, UserID: "u11", Key: "lost-1"})
	if err != nil {
		t.Fatal(err)
	}
	svc.Inventory.Commit(ctx, res.ID)
	// And a checkout that placed its order: left alone.
	fillCart(t, svc, "u12", "p012", 1)
	c := composite.New(svc, composite.Config{})
	if _, err := checkout(c, "u12", "kept-1"); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go c.Reconcile(rctx, time.Hour, -time.Minute) // everything made so far counts
	var rep composite.Report
	waitFor(t, "the repairs", func() bool { rep, _ = c.Runs(ctx); return len(rep.Repairs) == 2 })
	kinds := map[string]string{}
	for _, r := range rep.Repairs {
		kinds[r.Kind] = r.ID
	}
	if kinds["refund"] != ch.ID || kinds["release"] != res.ID {
		t.Errorf("repairs %+v, want the refund of %s and the release of %s only", rep.Repairs, ch.ID, res.ID)
	}
	if got, _ := svc.Payments.ByKey(ctx, "kept-1"); got.Status != payments.StatusSucceeded {
		t.Errorf("the placed order's charge was touched: %+v", got)
	}
}
