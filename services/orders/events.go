package orders

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

// The choreographed checkout. Nobody drives it: the gateway places a
// pending order (NewOrder.Choreographed), whose order.placed event starts
// it, and each service takes the events it subscribes to and publishes
// what it did, through its own outbox:
//
//	order.placed        → inventory commits the stock: inventory.committed, or inventory.rejected
//	inventory.committed → payments charges:            payment.succeeded, or payment.failed
//	payment.succeeded   → cart clears:                 cart.cleared
//	payment.failed      → inventory puts the stock back (the compensation): inventory.released
//
// The orders service takes every one of them into the order's status and
// steps, so that a client can follow the order, and tells of each step it
// took (order.progressed): what a gateway that streams the order waits for.
const (
	SubjectPlaced = "order.placed"
	// SubjectProgressed tells that the orders service took a step of an
	// order into its status: what a client following the order waits for.
	SubjectProgressed = "order.progressed"

	StatusPending        = "pending"
	StatusStockCommitted = "stock_committed"
	StatusPaid           = "paid"
	StatusPaymentFailed  = "payment_failed"
	StatusCompleted      = "completed"
	StatusRejected       = "rejected"
	StatusCancelled      = "cancelled"
)

// Placed is the data of an order.placed event.
type Placed struct {
	OrderID    string `json:"order_id"`
	UserID     string `json:"user_id"`
	Lines      []Line `json:"lines"`
	TotalCents int64  `json:"total_cents"`
	Currency   string `json:"currency"`
}

// Progressed is the data of an order.progressed event.
type Progressed struct {
	OrderID string `json:"order_id"`
	Step    string `json:"step"`
	Status  string `json:"status"`
}

// progress is what the orders service reads of the other services' events
// of an order.
type progress struct {
	OrderID       string `json:"order_id"`
	ReservationID string `json:"reservation_id"`
	PaymentID     string `json:"payment_id"`
	Reason        string `json:"reason"`
}

// moves are the events an order's status follows: the step each records,
// and the status it takes the order to. A status only moves forward (by
// rank), so an event taken late changes only the steps.
var moves = map[string]struct {
	step, status string
}{
	"inventory.committed": {"stock_committed", StatusStockCommitted},
	"inventory.rejected":  {"stock_rejected", StatusRejected},
	"payment.succeeded":   {"paid", StatusPaid},
	"payment.failed":      {"payment_failed", StatusPaymentFailed},
	"inventory.released":  {"stock_released", StatusCancelled},
	"cart.cleared":        {"cart_cleared", StatusCompleted},
}

var rank = map[string]int{StatusPending: 0, StatusStockCommitted: 1, StatusPaid: 2, StatusPaymentFailed: 2,
	StatusCompleted: 3, StatusRejected: 3, StatusCancelled: 3}

// Final reports whether status is an order's last.
func Final(status string) bool {
	return status == StatusCompleted || status == StatusRejected || status == StatusCancelled || status == StatusPlaced
}

// placed records, within tx, the first step of choreographed order id and
// its order.placed event.
func (s *Store) placed(ctx context.Context, tx *sqldb.Tx, id string, o NewOrder, total int64) error {
	e, err := event.New(SubjectPlaced, Placed{OrderID: id, UserID: o.UserID, Lines: o.Lines, TotalCents: total, Currency: o.Currency})
	if err != nil {
		return err
	}
	if err := addStep(ctx, tx, number(id)/s.parts, "placed", "", e.At); err != nil {
		return err
	}
	return event.Record(ctx, tx, e)
}

func addStep(ctx context.Context, tx sqldb.Querier, seq int64, step, detail string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO order_steps (order_seq, step, detail, at) VALUES (?, ?, ?, ?)`,
		seq, step, detail, at.UnixNano())
	if err != nil {
		return fmt.Errorf("order step: %w", err)
	}
	return nil
}

// steps reads the steps of the order numbered seq here.
func (s *Store) steps(ctx context.Context, seq int64) ([]Step, error) {
	rows, err := s.db.Q(ctx).QueryContext(ctx, `SELECT step, detail, at FROM order_steps WHERE order_seq = ? ORDER BY at, seq`, seq)
	if err != nil {
		return nil, fmt.Errorf("order steps: %w", err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var (
			st Step
			at int64
		)
		if err := rows.Scan(&st.Step, &st.Detail, &at); err != nil {
			return nil, fmt.Errorf("order steps: %w", err)
		}
		st.At = time.Unix(0, at).UTC()
		out = append(out, st)
	}
	return out, rows.Err()
}

// Consumes names the orders' durable consumer (one per partition, each
// taking its own orders' events) and what it takes.
func (s *Store) Consumes() (string, []string) {
	name := "orders"
	if s.parts > 1 {
		name = fmt.Sprintf("orders-p%d", s.part)
	}
	return name, []string{"inventory.>", "payment.>", "cart.>"}
}

// Handle takes one event of an order into its status and steps, once
// however often it is delivered; another partition's order is not this
// store's to take.
func (s *Store) Handle(ctx context.Context, e event.Event) error {
	mv, ok := moves[e.Subject]
	if !ok {
		return nil
	}
	p, err := event.Decode[progress](e)
	if err != nil || !ValidID(p.OrderID) {
		return errors.Join(fmt.Errorf("orders: event %s: no order", e.ID), err, event.ErrPoison)
	}
	n := number(p.OrderID)
	if n%s.parts != s.part {
		return nil
	}
	durable, _ := s.Consumes()
	return s.Apply(ctx, durable, e, func(ctx context.Context) (event.Next, error) {
		now, err := s.progress(ctx, n/s.parts, mv.step, mv.status, p, e.At)
		if err != nil {
			return event.Next{}, err
		}
		return event.Next{Subject: SubjectProgressed, Data: Progressed{OrderID: p.OrderID, Step: mv.step, Status: now}}, nil
	})
}

// progress records step of the order numbered seq here, moves its status
// forward to status, and returns the status it has now.
func (s *Store) progress(ctx context.Context, seq int64, step, status string, p progress, at time.Time) (string, error) {
	q := s.db.Q(ctx)
	var was string
	if err := q.QueryRowContext(ctx, `SELECT status FROM orders WHERE seq = ?`, seq).Scan(&was); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", errors.Join(fmt.Errorf("orders: no order %s", p.OrderID), event.ErrPoison)
		}
		return "", fmt.Errorf("orders: %w", err)
	}
	detail := cmp.Or(p.Reason, p.PaymentID, p.ReservationID) // why it failed, or what it made
	if err := addStep(ctx, q, seq, step, detail, at); err != nil {
		return "", err
	}
	if rank[status] <= rank[was] {
		return was, nil
	}
	_, err := q.ExecContext(ctx, `UPDATE orders SET status = ?,
		reservation_id = CASE WHEN ? != '' THEN ? ELSE reservation_id END,
		payment_id = CASE WHEN ? != '' THEN ? ELSE payment_id END WHERE seq = ?`,
		status, p.ReservationID, p.ReservationID, p.PaymentID, p.PaymentID, seq)
	if err != nil {
		return "", fmt.Errorf("orders: %w", err)
	}
	return status, nil
}
