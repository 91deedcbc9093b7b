package paymentshttp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/payments/paymentshttp"
)

// sidesAt are the sides of the service with a fresh store where place says.
func sidesAt(place conformance.Place) conformance.Sides[payments.Service] {
	return conformance.Sides[payments.Service]{
		New: func(t *testing.T) payments.Service {
			return conformance.Open(t, place("payments"), payments.Open)
		},
		Handler: paymentshttp.NewHandler,
		Client:  func(u string) payments.Service { return paymentshttp.NewClient(u) },
	}
}

func TestConformance(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		conformance.Run(t, sidesAt(place), func(t *testing.T, svc payments.Service) {
			ctx := context.Background()
			req := payments.ChargeRequest{UserID: "u01", AmountCents: 2599, Currency: "EUR", Key: "k1"}
			c, err := svc.Charge(ctx, req)
			if err != nil || c.ID == "" || c.Status != payments.StatusSucceeded || c.AmountCents != 2599 {
				t.Fatalf("Charge = %+v, %v", c, err)
			}
			again, err := svc.Charge(ctx, req)
			if err != nil || again != c {
				t.Errorf("the same key charged again: %+v, %v; want %+v", again, err, c)
			}
			if byKey, err := svc.ByKey(ctx, "k1"); err != nil || byKey != c {
				t.Errorf("ByKey(k1) = %+v, %v; want %+v", byKey, err, c)
			}
			if _, err := svc.ByKey(ctx, "k2"); !errors.Is(err, payments.ErrNotFound) {
				t.Errorf("ByKey(k2) err = %v, want ErrNotFound", err)
			}
			other, err := svc.Charge(ctx, payments.ChargeRequest{UserID: "u01", AmountCents: 2599, Currency: "EUR"})
			if err != nil || other.ID == c.ID {
				t.Errorf("a keyless charge = %+v, %v; want a new charge", other, err)
			}
			for range 2 {
				r, err := svc.Refund(ctx, c.ID)
				if err != nil || r.Status != payments.StatusRefunded {
					t.Fatalf("Refund = %+v, %v", r, err)
				}
			}
			if got, err := svc.Get(ctx, c.ID); err != nil || got.Status != payments.StatusRefunded {
				t.Errorf("Get after refund = %+v, %v", got, err)
			}
			if _, err := svc.Charge(ctx, payments.ChargeRequest{UserID: "u01", AmountCents: payments.MaxAmountCents + 1, Currency: "EUR"}); !errors.Is(err, payments.ErrDeclined) {
				t.Errorf("a huge charge: err = %v, want ErrDeclined", err)
			}
			// Succeeded lists the charges not refunded, made before a time.
			list, err := svc.Succeeded(ctx, time.Now().Add(time.Minute), 10)
			if err != nil || len(list) != 1 || list[0].ID != other.ID {
				t.Errorf("Succeeded = %+v, %v; want the keyless charge only (the other was refunded)", list, err)
			}
			if list, err := svc.Succeeded(ctx, other.CreatedAt.Add(-time.Minute), 10); err != nil || len(list) != 0 {
				t.Errorf("Succeeded before they were made = %+v, %v; want none", list, err)
			}
			if _, err := svc.Succeeded(ctx, time.Now(), 0); !errors.Is(err, payments.ErrInvalid) {
				t.Errorf("a limit of 0: %v, want ErrInvalid", err)
			}
			if _, err := svc.Get(ctx, "ch-999"); !errors.Is(err, payments.ErrNotFound) {
				t.Errorf("Get(ch-999) err = %v", err)
			}
			for _, bad := range []payments.ChargeRequest{{UserID: "u01", Currency: "EUR"}, {UserID: "x", AmountCents: 1, Currency: "EUR"}, {UserID: "u01", AmountCents: 1}} {
				if _, err := svc.Charge(ctx, bad); !errors.Is(err, payments.ErrInvalid) {
					t.Errorf("Charge(%+v) err = %v, want ErrInvalid", bad, err)
				}
			}
		})
	})
}

func TestReplicasShareTheirCharges(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		ctx := context.Background()
		path := place("payments")
		req := payments.ChargeRequest{UserID: "u02", AmountCents: 100, Currency: "EUR", Key: "dup"}
		charges := conformance.Replicas(t, path, payments.Open, 20, func(s *payments.Store, _ int) (payments.Charge, error) {
			return s.Charge(ctx, req)
		})
		for _, c := range charges {
			if c.ID != charges[0].ID {
				t.Fatalf("one key made charges %v and %v", charges[0].ID, c.ID)
			}
		}
		a := conformance.Open(t, path, payments.Open)
		if _, err := a.Refund(ctx, charges[0].ID); err != nil {
			t.Fatal(err)
		}
		a.Close()
		if c, err := conformance.Open(t, path, payments.Open).ByKey(ctx, "dup"); err != nil || c.Status != payments.StatusRefunded {
			t.Errorf("after a reopen: %+v, %v; want the charge, refunded", c, err)
		}
	})
}
