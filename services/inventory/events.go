package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
)

// Inventory's part in the choreographed checkout (see package orders): it
// commits an order's stock when the order is placed, and puts it back when
// the order's payment failed.
const (
	SubjectCommitted = "inventory.committed"
	SubjectRejected  = "inventory.rejected"
	SubjectReleased  = "inventory.released"
)

// OrderStock is the data of inventory's events of an order.
type OrderStock struct {
	OrderID       string `json:"order_id"`
	UserID        string `json:"user_id"`
	ReservationID string `json:"reservation_id,omitempty"`
	TotalCents    int64  `json:"total_cents,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// orderEvent is what inventory reads of the events it takes: order.placed
// and payment.failed.
type orderEvent struct {
	OrderID       string `json:"order_id"`
	UserID        string `json:"user_id"`
	Lines         []Line `json:"lines"`
	TotalCents    int64  `json:"total_cents"`
	Currency      string `json:"currency"`
	ReservationID string `json:"reservation_id"`
}

// Consumes names inventory's durable consumer and what it takes.
func (s *Store) Consumes() (string, []string) {
	return "inventory", []string{"order.placed", "payment.failed"}
}

// Handle takes order.placed (the order's stock is reserved and committed
// at once: inventory.committed; or inventory.rejected when there is not
// enough) and payment.failed (the stock goes back: inventory.released).
// The change, the event it publishes and the mark that e was taken commit
// together, so a redelivered e changes nothing.
func (s *Store) Handle(ctx context.Context, e event.Event) error {
	if e.Subject != "order.placed" && e.Subject != "payment.failed" {
		return nil
	}
	o, err := event.Decode[orderEvent](e)
	if err != nil || o.OrderID == "" || !domain.ValidUserID(o.UserID) {
		return errors.Join(fmt.Errorf("inventory: event %s: no order", e.ID), err, event.ErrPoison)
	}
	return s.Apply(ctx, "inventory", e, func(ctx context.Context) (event.Next, error) {
		out := OrderStock{OrderID: o.OrderID, UserID: o.UserID, TotalCents: o.TotalCents, Currency: o.Currency}
		if e.Subject == "payment.failed" {
			out.ReservationID = o.ReservationID
			if _, err := s.Release(ctx, o.ReservationID); err != nil && !errors.Is(err, ErrNotFound) {
				return event.Next{}, err
			}
			return event.Next{Subject: SubjectReleased, Data: out}, nil
		}
		r, err := s.Reserve(ctx, ReserveRequest{Lines: o.Lines, UserID: o.UserID, Key: "order:" + o.OrderID})
		if err == nil {
			r, err = s.Commit(ctx, r.ID)
		}
		switch {
		case err == nil:
			out.ReservationID = r.ID
			return event.Next{Subject: SubjectCommitted, Data: out}, nil
		case domain.Is(err): // not enough stock, an unknown product: the order cannot be had
			out.Reason = err.Error()
			return event.Next{Subject: SubjectRejected, Data: out}, nil
		}
		return event.Next{}, err
	})
}
