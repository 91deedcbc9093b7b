package ordershttp_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/orders/ordershttp"
)

func open(t *testing.T, path string) *orders.Store { return conformance.Open(t, path, orders.Open) }

// sidesAt are the sides of the service with a fresh store where place says.
func sidesAt(place conformance.Place) conformance.Sides[orders.Service] {
	return conformance.Sides[orders.Service]{
		New:     func(t *testing.T) orders.Service { return open(t, place("orders")) },
		Handler: ordershttp.NewHandler,
		Client:  func(u string) orders.Service { return ordershttp.NewClient(u) },
	}
}

func newOrder(user, key string) orders.NewOrder {
	return orders.NewOrder{
		UserID: user, Currency: "EUR", PaymentID: "ch-1", ReservationID: "res-1", Key: key,
		Lines: []orders.Line{{ProductID: "p001", Quantity: 2, PriceCents: 1000}, {ProductID: "p002", Quantity: 1, PriceCents: 499}},
	}
}

func TestConformance(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		conformance.Run(t, sidesAt(place), suite)
	})
}

// suite is what every orders Service does, whole or partitioned.
func suite(t *testing.T, svc orders.Service) {
	ctx := context.Background()
	o, err := svc.Create(ctx, newOrder("u01", ""))
	if err != nil || o.ID == "" || o.TotalCents != 2499 || o.Status != orders.StatusPlaced || o.CreatedAt.IsZero() {
		t.Fatalf("Create = %+v, %v", o, err)
	}
	got, err := svc.Order(ctx, o.ID)
	if err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("Order(%s) = %+v, %v; want %+v", o.ID, got, err, o)
	}
	second, _ := svc.Create(ctx, newOrder("u01", "key-1"))
	replay, err := svc.Create(ctx, newOrder("u01", "key-1"))
	if err != nil || replay.ID != second.ID {
		t.Errorf("a replayed key made order %s, first was %s (%v)", replay.ID, second.ID, err)
	}
	if byKey, err := svc.ByKey(ctx, "key-1"); err != nil || byKey.ID != second.ID {
		t.Errorf("ByKey(key-1) = %+v, %v; want order %s", byKey, err, second.ID)
	}
	if _, err := svc.ByKey(ctx, "never-used"); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("ByKey(never-used) err = %v, want ErrNotFound", err)
	}
	if _, err := svc.ByKey(ctx, ""); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("ByKey(\"\") err = %v, want ErrInvalid", err)
	}
	list, err := svc.ByUser(ctx, "u01", 5)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != o.ID {
		t.Errorf("ByUser = %+v, %v; want newest first", list, err)
	}
	if list, err := svc.ByUser(ctx, "u02", 5); err != nil || len(list) != 0 {
		t.Errorf("ByUser(u02) = %v, %v", list, err)
	}
	if _, err := svc.Order(ctx, "o-999999"); !errors.Is(err, orders.ErrNotFound) {
		t.Errorf("Order(o-999999) err = %v", err)
	}
	bad := newOrder("u01", "")
	bad.Lines = nil
	if _, err := svc.Create(ctx, bad); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("Create without lines: err = %v", err)
	}
	if _, err := svc.ByUser(ctx, "u01", 0); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("ByUser limit 0: err = %v", err)
	}
	var ids []string // newest first
	for _, u := range []string{"u02", "u03", "u04", "u05", "u06", "u07"} {
		o, err := svc.Create(ctx, newOrder(u, ""))
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{o.ID}, ids...)
		if got, err := svc.Order(ctx, o.ID); err != nil || got.UserID != u {
			t.Errorf("Order(%s) = %+v, %v", o.ID, got, err)
		}
	}
	rec, err := svc.Since(ctx, o.CreatedAt, 4)
	if err != nil || rec.Partial || len(rec.Orders) != 4 {
		t.Fatalf("Since = %+v, %v; want 4 orders", rec, err)
	}
	for i, o := range rec.Orders {
		if o.ID != ids[i] {
			t.Errorf("Since: order %d is %s, want %s (newest first)", i, o.ID, ids[i])
		}
	}
	if rec, err := svc.Since(ctx, time.Now().Add(time.Hour), 50); err != nil || len(rec.Orders) != 0 || rec.Orders == nil {
		t.Errorf("Since an hour from now = %+v, %v; want an empty list", rec, err)
	}
	if _, err := svc.Since(ctx, o.CreatedAt, 0); !errors.Is(err, orders.ErrInvalid) {
		t.Errorf("Since limit 0: err = %v", err)
	}
}

func TestRestartLosesNoOrder(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		path := place("orders")
		s := open(t, path)
		o, err := s.Create(context.Background(), newOrder("u03", "k"))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		got, err := open(t, path).Order(context.Background(), o.ID)
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Fatalf("after reopening: %+v, %v; want %+v", got, err, o)
		}
	})
}

func TestConcurrentDuplicateKeysMakeOneOrder(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		made := conformance.Replicas(t, place("orders"), orders.Open, 20, func(s *orders.Store, _ int) (orders.Order, error) {
			return s.Create(context.Background(), newOrder("u04", "dup"))
		})
		for _, o := range made {
			if o.ID != made[0].ID {
				t.Fatalf("one key made orders %v and %v", made[0].ID, o.ID)
			}
		}
	})
}
