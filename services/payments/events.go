package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
)

// Payments' part in the choreographed checkout (see package orders): it
// charges an order once its stock is committed.
const (
	SubjectSucceeded = "payment.succeeded"
	SubjectFailed    = "payment.failed"
)

// OrderPayment is the data of payments' events of an order.
type OrderPayment struct {
	OrderID       string `json:"order_id"`
	UserID        string `json:"user_id"`
	ReservationID string `json:"reservation_id"`
	PaymentID     string `json:"payment_id,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// committed is what payments reads of inventory.committed.
type committed struct {
	OrderID       string `json:"order_id"`
	UserID        string `json:"user_id"`
	ReservationID string `json:"reservation_id"`
	TotalCents    int64  `json:"total_cents"`
	Currency      string `json:"currency"`
}

// Consumes names payments' durable consumer and what it takes.
func (s *Store) Consumes() (string, []string) { return "payments", []string{"inventory.committed"} }

// Handle charges the order whose stock inventory committed, by the order's
// key (so never twice): payment.succeeded, or payment.failed when the
// charge is declined, which has inventory put the stock back.
func (s *Store) Handle(ctx context.Context, e event.Event) error {
	if e.Subject != "inventory.committed" {
		return nil
	}
	c, err := event.Decode[committed](e)
	if err != nil || c.OrderID == "" || c.ReservationID == "" {
		return errors.Join(fmt.Errorf("payments: event %s: no order", e.ID), err, event.ErrPoison)
	}
	return s.Apply(ctx, "payments", e, func(ctx context.Context) (event.Next, error) {
		out := OrderPayment{OrderID: c.OrderID, UserID: c.UserID, ReservationID: c.ReservationID}
		charge, err := s.Charge(ctx, ChargeRequest{UserID: c.UserID, AmountCents: c.TotalCents, Currency: c.Currency, Key: "order:" + c.OrderID})
		switch {
		case err == nil:
			out.PaymentID = charge.ID
			return event.Next{Subject: SubjectSucceeded, Data: out}, nil
		case domain.Is(err): // declined, or a charge the processor cannot take
			out.Reason = err.Error()
			return event.Next{Subject: SubjectFailed, Data: out}, nil
		}
		return event.Next{}, err
	})
}
