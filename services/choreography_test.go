package services_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
)

// started opens every service in-process and connects them to an embedded
// NATS server, as a monolith does.
func started(t *testing.T, st services.Storage) (*services.Local, *broker.Bus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.Embed(t.TempDir(), "127.0.0.1:0", []broker.User{{Name: "atrium", Password: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := broker.Connect(ctx, srv.URL(), broker.Options{User: "atrium", Password: "pw", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	local, err := services.Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); bus.Close(); srv.Shutdown(); local.Close() })
	if err := local.Start(ctx, bus, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return local, bus
}

// onEveryStorage runs test with the services' state in SQLite files, and
// in a real PostgreSQL.
func onEveryStorage(t *testing.T, test func(t *testing.T, st services.Storage)) {
	testkit.OnEveryDatabase(t, func(t *testing.T, database string) {
		test(t, services.Storage{Dir: t.TempDir(), Database: database})
	})
}

// place puts lines in user's cart and places a choreographed order of
// them at price cents each.
func place(t *testing.T, set services.Set, user string, cents int64, lines ...inventory.Line) orders.Order {
	t.Helper()
	ctx := context.Background()
	var ol []orders.Line
	for _, l := range lines {
		if _, err := set.Cart.SetItem(ctx, user, cart.Item{ProductID: l.ProductID, Quantity: l.Quantity}); err != nil {
			t.Fatal(err)
		}
		ol = append(ol, orders.Line{ProductID: l.ProductID, Quantity: l.Quantity, PriceCents: cents})
	}
	o, err := set.Orders.Create(ctx, orders.NewOrder{UserID: user, Lines: ol, Currency: "EUR", Choreographed: true})
	if err != nil || o.Status != orders.StatusPending {
		t.Fatalf("placed %+v, %v; want a pending order", o, err)
	}
	return o
}

// settled waits for order id to reach a final status.
func settled(t *testing.T, set services.Set, id string) orders.Order {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		o, err := set.Orders.Order(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if orders.Final(o.Status) {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s after 15s: %+v", id, o.Status, o.Steps)
		}
	}
}

func steps(o orders.Order) []string {
	var out []string
	for _, s := range o.Steps {
		out = append(out, s.Step)
	}
	return out
}

func stock(t *testing.T, set services.Set, id string) inventory.Stock {
	t.Helper()
	s, err := set.Inventory.Stock(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTheChoreographedCheckout runs the checkout that no one drives: an
// order placed goes through inventory, payments and the cart by their
// subscriptions, to completed; a declined payment has inventory put the
// stock back (cancelled); too little stock rejects the order.
func TestTheChoreographedCheckout(t *testing.T) {
	onEveryStorage(t, func(t *testing.T, st services.Storage) {
		local, _ := started(t, st)
		set, ctx := local.Set, context.Background()

		before := stock(t, set, "p001")
		o := settled(t, set, place(t, set, "u01", 1500, inventory.Line{ProductID: "p001", Quantity: 2}).ID)
		if o.Status != orders.StatusCompleted || !slices.Equal(steps(o), []string{"placed", "stock_committed", "paid", "cart_cleared"}) {
			t.Errorf("order %s: %s %v; want completed after placed, stock_committed, paid, cart_cleared", o.ID, o.Status, steps(o))
		}
		if o.PaymentID == "" || o.ReservationID == "" {
			t.Errorf("completed order %+v: no payment or reservation", o)
		}
		if after := stock(t, set, "p001"); after.Sold != before.Sold+2 || after.Available != before.Available-2 {
			t.Errorf("stock of p001: %+v -> %+v, want 2 sold", before, after)
		}
		if c, _ := set.Cart.Cart(ctx, "u01"); len(c.Items) != 0 {
			t.Errorf("cart after the order: %+v", c)
		}
		if ch, err := set.Payments.ByKey(ctx, "order:"+o.ID); err != nil || ch.AmountCents != 3000 {
			t.Errorf("the order's charge: %+v, %v", ch, err)
		}

		before = stock(t, set, "p002")
		o = settled(t, set, place(t, set, "u02", payments.MaxAmountCents, inventory.Line{ProductID: "p002", Quantity: 2}).ID)
		if o.Status != orders.StatusCancelled || !slices.Equal(steps(o), []string{"placed", "stock_committed", "payment_failed", "stock_released"}) {
			t.Errorf("declined order %s: %s %v; want cancelled after placed, stock_committed, payment_failed, stock_released", o.ID, o.Status, steps(o))
		}
		if after := stock(t, set, "p002"); after != before {
			t.Errorf("stock of p002 after a declined order: %+v, want it as it was: %+v", after, before)
		}
		if c, _ := set.Cart.Cart(ctx, "u02"); len(c.Items) != 1 {
			t.Errorf("cart after a declined order: %+v, want it kept", c)
		}

		before = stock(t, set, "p008")
		o = settled(t, set, place(t, set, "u03", 100, inventory.Line{ProductID: "p008", Quantity: before.Available + 1}).ID)
		if o.Status != orders.StatusRejected || !slices.Equal(steps(o), []string{"placed", "stock_rejected"}) {
			t.Errorf("order beyond the stock %s: %s %v; want rejected", o.ID, o.Status, steps(o))
		}
		if after := stock(t, set, "p008"); after != before {
			t.Errorf("stock of p008 after a rejected order: %+v, want %+v", after, before)
		}
	})
}

// TestAnEventTakenTwiceChangesNothing hands inventory the same order.placed
// twice, as a broker redelivers it: the stock is committed once, and one
// event follows.
func TestAnEventTakenTwiceChangesNothing(t *testing.T) {
	onEveryStorage(t, func(t *testing.T, st services.Storage) {
		inv, err := inventory.Open(st.Place("inventory"))
		if err != nil {
			t.Fatal(err)
		}
		defer inv.Close()
		ctx := context.Background()
		e, _ := event.New("order.placed", orders.Placed{OrderID: "o-000007", UserID: "u01", Lines: []orders.Line{{ProductID: "p004", Quantity: 3, PriceCents: 100}},
			TotalCents: 300, Currency: "EUR"})
		before, _ := inv.Stock(ctx, "p004")
		for range 3 {
			if err := inv.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if after, _ := inv.Stock(ctx, "p004"); after.Sold != before.Sold+3 {
			t.Errorf("sold %d -> %d after the event three times, want +3", before.Sold, after.Sold)
		}
		var published []event.Event
		if _, err := inv.Relay(func(_ context.Context, e event.Event) error { published = append(published, e); return nil }).Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if len(published) != 1 || published[0].Subject != inventory.SubjectCommitted {
			t.Errorf("published %+v, want one inventory.committed", published)
		}
	})
}
