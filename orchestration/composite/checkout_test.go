package composite_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
)

// brokenOrders writes no order.
type brokenOrders struct{ orders.Service }

func (brokenOrders) Create(context.Context, orders.NewOrder) (orders.Order, error) {
	return orders.Order{}, errors.New("orders database is gone")
}

// uncommittingInventory cannot commit a reservation.
type uncommittingInventory struct{ inventory.Service }

func (uncommittingInventory) Commit(context.Context, string) (inventory.Reservation, error) {
	return inventory.Reservation{}, errors.New("inventory is gone")
}

func TestCheckoutSellsTheStock(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	before := fillCart(t, svc, "u05", "p002", 2)
	out, err := checkout(composite.New(svc, composite.Config{}), "u05", "sells-1")
	if err != nil {
		t.Fatal(err)
	}
	if st := out.Meta.Sources[composite.StepCommit].Status; st != orchestration.StatusOK {
		t.Errorf("commit step: %s", st)
	}
	after, _ := svc.Inventory.Stock(ctx, "p002")
	if after.Sold != before.Sold+2 || after.Reserved != before.Reserved || after.Available != before.Available-2 {
		t.Errorf("after an order of 2: %+v, before %+v", after, before)
	}
}

// refusingOrders refuses every order: a domain answer, so nothing was made.
type refusingOrders struct{ orders.Service }

func (refusingOrders) Create(context.Context, orders.NewOrder) (orders.Order, error) {
	return orders.Order{}, fmt.Errorf("order: %w", orders.ErrInvalid)
}

func TestCheckoutUndoesAFailureWhileTheOrderIsNotMade(t *testing.T) {
	for _, tc := range []struct {
		name, step string
		breakIt    func(*services.Set)
	}{
		{"the commit's outcome unknown", composite.StepCommit, func(s *services.Set) { s.Inventory = uncommittingInventory{s.Inventory} }},
		{"the order refused", composite.StepOrder, func(s *services.Set) { s.Orders = refusingOrders{s.Orders} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc := localServices(t)
			before := fillCart(t, svc, "u06", "p003", 1)
			broken := svc
			tc.breakIt(&broken)
			_, err := checkout(composite.New(broken, composite.Config{}), "u06", "undo-1")
			var ce *orchestration.SagaError
			if !errors.As(err, &ce) || ce.Step != tc.step {
				t.Fatalf("err = %v, want a checkout error at %s", err, tc.step)
			}
			want := []string{composite.CompRefund, composite.CompRelease}
			if !slices.Equal(ce.Compensated, want) || len(ce.Pending) != 0 {
				t.Errorf("compensated %v, pending %v; want %v", ce.Compensated, ce.Pending, want)
			}
			if after, _ := svc.Inventory.Stock(ctx, "p003"); after != before {
				t.Errorf("stock after the undo: %+v, want %+v", after, before)
			}
			if ch, err := svc.Payments.ByKey(ctx, "undo-1"); err != nil || ch.Status != payments.StatusRefunded {
				t.Errorf("charge after the undo: %+v, %v; want refunded", ch, err)
			}
		})
	}
}

// TestCheckoutGoesForwardPastTheCommit: the orders service fails without
// saying whether it placed the order. Nothing is undone (the order may
// stand); the answer is "in progress", and a recovery pass places the order
// once orders is back.
func TestCheckoutGoesForwardPastTheCommit(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	before := fillCart(t, svc, "u06", "p003", 1)
	log := new(sagalog.Memory)
	broken := svc
	broken.Orders = brokenOrders{svc.Orders}
	_, err := checkout(composite.New(broken, composite.Config{Log: log}), "u06", "forward-1")
	if !errors.Is(err, composite.ErrInProgress) || !strings.Contains(err.Error(), `"forward-1" answers the order`) {
		t.Fatalf("err = %v, want ErrInProgress, naming the key that answers the order", err)
	}
	if after, _ := svc.Inventory.Stock(ctx, "p003"); after.Sold != before.Sold+1 {
		t.Errorf("stock %+v (before %+v): the commit was undone", after, before)
	}
	if ch, err := svc.Payments.ByKey(ctx, "forward-1"); err != nil || ch.Status != payments.StatusSucceeded {
		t.Errorf("charge %+v, %v: want it kept", ch, err)
	}
	// Orders is back: a gateway's recovery pass places the order.
	fixed := composite.New(svc, composite.Config{Log: log})
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go fixed.Recover(rctx, 20*time.Millisecond)
	waitFor(t, "the run to go forward", func() bool {
		rep, _ := fixed.Runs(ctx)
		return rep.Unfinished == 0 && rep.Recovered[orchestration.Forward] == 1
	})
	a, err := fixed.Checkout(ctx, "u06", "forward-1")
	var placed struct{ Order orders.Order }
	json.Unmarshal(a.Body, &placed)
	if err != nil || a.Status != 201 || placed.Order.Key != "forward-1" {
		t.Fatalf("the key's answer: %d %s %v; want the order placed by recovery", a.Status, a.Body, err)
	}
	if o, err := svc.Orders.ByKey(ctx, "forward-1"); err != nil || o.ID != placed.Order.ID {
		t.Errorf("the key's order: %+v, %v", o, err)
	}
}

// fillCart puts quantity of product in user's cart and returns the
// product's stock before any checkout.
func fillCart(t *testing.T, svc services.Set, user, product string, quantity int) inventory.Stock {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Cart.SetItem(ctx, user, cart.Item{ProductID: product, Quantity: quantity}); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Inventory.Stock(ctx, product)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCheckoutRetryAfterACrashReusesTheKeysReservation(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	before := fillCart(t, svc, "u07", "p004", 1)
	// A gateway reserved, charged and committed for the key, then died.
	lost, err := svc.Inventory.Reserve(ctx, inventory.ReserveRequest{
		Lines: []inventory.Line{{ProductID: "p004", Quantity: 1}}, UserID: "u07", Key: "crash-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Inventory.Commit(ctx, lost.ID); err != nil {
		t.Fatal(err)
	}
	// The client retries with the same key.
	out, err := checkout(composite.New(svc, composite.Config{}), "u07", "crash-1")
	if err != nil {
		t.Fatal(err)
	}
	if out.Order.ReservationID != lost.ID {
		t.Errorf("the order holds reservation %s, want the key's %s", out.Order.ReservationID, lost.ID)
	}
	if after, _ := svc.Inventory.Stock(ctx, "p004"); after.Sold != before.Sold+1 || after.Available != before.Available-1 {
		t.Errorf("stock after the lost attempt and the retry: %+v, before both %+v; want one unit sold", after, before)
	}
}

func TestCheckoutKeyOfAnotherUsersReservation(t *testing.T) {
	ctx := context.Background()
	svc := localServices(t)
	fillCart(t, svc, "u08", "p005", 1)
	theirs, err := svc.Inventory.Reserve(ctx, inventory.ReserveRequest{
		Lines: []inventory.Line{{ProductID: "p005", Quantity: 1}}, UserID: "u09", Key: "shared-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = checkout(composite.New(svc, composite.Config{}), "u08", "shared-1")
	if !errors.Is(err, composite.ErrKeyReused) {
		t.Fatalf("err = %v, want ErrKeyReused", err)
	}
	if r, _ := svc.Inventory.Commit(ctx, theirs.ID); r.Status != inventory.StatusCommitted {
		t.Errorf("the other user's reservation is %s: the failed checkout touched it", r.Status)
	}
}

// checkout runs a checkout and returns its result or its error.
func checkout(c *composite.Composer, user, key string) (composite.Checkout, error) {
	a, err := c.Checkout(context.Background(), user, key)
	if err != nil {
		return composite.Checkout{}, err
	}
	if a.Err != nil {
		return composite.Checkout{}, a.Err
	}
	if a.Checkout == nil {
		return composite.Checkout{}, errors.New("a replayed answer")
	}
	return *a.Checkout, nil
}
