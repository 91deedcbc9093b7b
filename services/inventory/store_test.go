package inventory_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/inventory"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// open opens a Store with opts in a fresh file.
func open(t *testing.T, opts ...inventory.Option) *inventory.Store {
	t.Helper()
	return conformance.Open(t, filepath.Join(t.TempDir(), "inventory.db"), func(path string) (*inventory.Store, error) {
		return inventory.Open(path, opts...)
	})
}

func TestHoldsExpire(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, inventory.HoldFor(time.Minute), inventory.Clock(clk.Now))
	before, err := s.Stock(ctx, "p001")
	if err != nil || before.Available < 3 {
		t.Fatalf("Stock(p001) = %+v, %v", before, err)
	}
	line := []inventory.Line{{ProductID: "p001", Quantity: 1}}
	abandoned, _ := s.Reserve(ctx, inventory.ReserveRequest{Lines: line}) // a checkout that died here
	clk.advance(30 * time.Second)
	committed, _ := s.Reserve(ctx, inventory.ReserveRequest{Lines: line})
	later, _ := s.Reserve(ctx, inventory.ReserveRequest{Lines: line})
	if _, err := s.Commit(ctx, committed.ID); err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(30 * time.Second); !abandoned.ExpiresAt.Equal(want) {
		t.Errorf("first hold expires at %v, want %v", abandoned.ExpiresAt, want)
	}

	clk.advance(30 * time.Second) // the first hold runs out, the last does not
	st, _ := s.Stock(ctx, "p001")
	if st.Available != before.Available-2 || st.Reserved != 1 || st.Sold != 1 {
		t.Errorf("after the first hold expired: %+v, before %+v", st, before)
	}
	if _, err := s.Commit(ctx, abandoned.ID); !errors.Is(err, inventory.ErrNotHeld) {
		t.Errorf("Commit of an expired hold err = %v, want ErrNotHeld", err)
	}
	if r, err := s.Release(ctx, abandoned.ID); err != nil || r.Status != inventory.StatusExpired {
		t.Errorf("Release of an expired hold = %+v, %v; want a no-op", r, err)
	}

	clk.advance(30 * time.Second) // the last hold runs out; the sale stands
	st, _ = s.Stock(ctx, "p001")
	if st.Available != before.Available-1 || st.Reserved != 0 || st.Sold != 1 {
		t.Errorf("after every hold expired: %+v, before %+v", st, before)
	}
	if r, _ := s.Release(ctx, later.ID); r.Status != inventory.StatusExpired {
		t.Errorf("the last hold is %s, want expired", r.Status)
	}
}

func TestReservationsAreForgottenAfterKeepFor(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, inventory.HoldFor(time.Minute), inventory.KeepFor(10*time.Minute), inventory.Clock(clk.Now))
	before, _ := s.Stock(ctx, "p001")
	req := inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: "p001", Quantity: 1}}, Key: "k1"}
	sold, _ := s.Reserve(ctx, req)
	if _, err := s.Commit(ctx, sold.ID); err != nil {
		t.Fatal(err)
	}
	clk.advance(5 * time.Minute)
	young, _ := s.Reserve(ctx, inventory.ReserveRequest{Lines: req.Lines})
	if r, err := s.Reserve(ctx, req); err != nil || r.ID != sold.ID {
		t.Fatalf("within KeepFor the key finds its reservation: %+v, %v", r, err)
	}

	clk.advance(5 * time.Minute) // the first is 10 minutes old, the second 5
	if _, err := s.Release(ctx, sold.ID); !errors.Is(err, inventory.ErrNotFound) {
		t.Errorf("Release of a forgotten reservation err = %v, want ErrNotFound", err)
	}
	if r, err := s.Release(ctx, young.ID); err != nil || r.Status != inventory.StatusExpired {
		t.Errorf("the younger reservation: %+v, %v; want it remembered, expired", r, err)
	}
	if st, _ := s.Stock(ctx, "p001"); st.Sold != 1 || st.Available != before.Available-1 {
		t.Errorf("forgetting changed the stock: %+v, before %+v", st, before)
	}
	if r, err := s.Reserve(ctx, req); err != nil || r.ID == sold.ID {
		t.Errorf("the key of a forgotten reservation reserves anew: %+v, %v", r, err)
	}
}

func TestReplicasNeverOversell(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		ctx := context.Background()
		path := place("inventory")
		before, err := conformance.Open(t, path, open1).Stock(ctx, "p004")
		if err != nil {
			t.Fatal(err)
		}
		n := before.Available + 10 // ten more single units than there are
		var sold atomic.Int32
		conformance.Replicas(t, path, open1, n, func(s *inventory.Store, _ int) (struct{}, error) {
			r, err := s.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: "p004", Quantity: 1}}})
			if errors.Is(err, inventory.ErrInsufficientStock) {
				return struct{}{}, nil
			}
			if err == nil {
				_, err = s.Commit(ctx, r.ID)
				sold.Add(1)
			}
			return struct{}{}, err
		})
		after, _ := conformance.Open(t, path, open1).Stock(ctx, "p004")
		if int(sold.Load()) != before.Available || after.Available != 0 || after.Sold != before.Available {
			t.Errorf("%d replicas' sales of %d units: sold %d, stock now %+v", n, before.Available, sold.Load(), after)
		}
	})
}

func open1(path string) (*inventory.Store, error) { return inventory.Open(path) }

func BenchmarkStockReads(b *testing.B) {
	s, err := inventory.Open(filepath.Join(b.TempDir(), "inventory.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Stock(ctx, "p001"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("five", func(b *testing.B) {
		b.ReportAllocs()
		ids := []string{"p001", "p002", "p003", "p004", "p005"}
		for b.Loop() {
			if _, err := s.Stocks(ctx, ids); err != nil {
				b.Fatal(err)
			}
		}
	})
}
