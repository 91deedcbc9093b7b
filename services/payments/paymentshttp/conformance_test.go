package paymentshttp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/payments/paymentshttp"
)

var sides = conformance.Sides[payments.Service]{
	New:     func(*testing.T) payments.Service { return payments.New() },
	Handler: paymentshttp.NewHandler,
	Client:  func(u string) payments.Service { return paymentshttp.NewClient(u) },
}

func TestConformance(t *testing.T) {
	conformance.Run(t, sides, func(t *testing.T, svc payments.Service) {
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
		if _, err := svc.Get(ctx, "ch-999"); !errors.Is(err, payments.ErrNotFound) {
			t.Errorf("Get(ch-999) err = %v", err)
		}
		for _, bad := range []payments.ChargeRequest{{UserID: "u01", Currency: "EUR"}, {UserID: "x", AmountCents: 1, Currency: "EUR"}, {UserID: "u01", AmountCents: 1}} {
			if _, err := svc.Charge(ctx, bad); !errors.Is(err, payments.ErrInvalid) {
				t.Errorf("Charge(%+v) err = %v, want ErrInvalid", bad, err)
			}
		}
	})
}
