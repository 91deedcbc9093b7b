package cart

import (
	"context"
	"errors"
	"fmt"

	"github.com/atrium-bff/atrium/internal/event"
)

// SubjectCleared tells that a user's cart was cleared for an order: the
// cart's part in the choreographed checkout (see package orders).
const SubjectCleared = "cart.cleared"

// Cleared is the data of a cart.cleared event.
type Cleared struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
}

// Consumes names the cart's durable consumer and what it takes.
func (s *Store) Consumes() (string, []string) { return "cart", []string{"payment.succeeded"} }

// Handle clears the cart of the user whose order was paid for.
func (s *Store) Handle(ctx context.Context, e event.Event) error {
	if e.Subject != "payment.succeeded" {
		return nil
	}
	c, err := event.Decode[Cleared](e)
	if err == nil && checkUser(c.UserID) != nil {
		err = checkUser(c.UserID)
	}
	if err != nil || c.OrderID == "" {
		return errors.Join(fmt.Errorf("cart: event %s: no order", e.ID), err, event.ErrPoison)
	}
	return s.Apply(ctx, "cart", e, func(ctx context.Context) (event.Next, error) {
		if _, err := s.Clear(ctx, c.UserID); err != nil {
			return event.Next{}, err
		}
		return event.Next{Subject: SubjectCleared, Data: c}, nil
	})
}
