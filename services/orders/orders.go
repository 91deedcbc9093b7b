// Package orders records placed orders. Store is the in-process
// implementation, persisted in a database (a SQLite file, or PostgreSQL) so
// that a restart loses no order; package ordershttp carries the Service over HTTP.
package orders

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/partition"
)

// Line is one product of an order at the price it was sold for.
type Line struct {
	ProductID  string `json:"product_id"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// NewOrder is what Create records. Key, when not empty, makes Create
// idempotent: a second Create with the same Key returns the first order.
type NewOrder struct {
	UserID        string `json:"user_id"`
	Lines         []Line `json:"lines"`
	Currency      string `json:"currency"`
	PaymentID     string `json:"payment_id"`
	ReservationID string `json:"reservation_id"`
	Key           string `json:"idempotency_key,omitempty"`
	// Choreographed places the order for the services to carry out by
	// events (see Choreography): it is pending, with no payment or
	// reservation yet, and an order.placed event tells of it.
	Choreographed bool `json:"choreographed,omitempty"`
}

// StatusPlaced is the status of an order placed by the orchestrated
// checkout: its stock committed and its payment made before it was
// recorded. A choreographed order goes through the other statuses.
const StatusPlaced = "placed"

// Step is one thing that happened to a choreographed order, as an event
// told the orders service.
type Step struct {
	Step   string    `json:"step"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// Order is a recorded order.
type Order struct {
	ID            string    `json:"id"`
	UserID        string    `json:"user_id"`
	Lines         []Line    `json:"lines"`
	TotalCents    int64     `json:"total_cents"`
	Currency      string    `json:"currency"`
	PaymentID     string    `json:"payment_id"`
	ReservationID string    `json:"reservation_id"`
	Key           string    `json:"idempotency_key,omitempty"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	// Steps are what happened to a choreographed order, oldest first;
	// present when one order is read.
	Steps []Step `json:"steps,omitempty"`
}

// Limits of ByUser.
const (
	DefaultLimit = 5
	MaxLimit     = 50
)

// Service is the orders' contract.
type Service interface {
	// Create records an order; see NewOrder.Key for idempotency.
	Create(ctx context.Context, o NewOrder) (Order, error)
	// Order returns one order, or ErrNotFound.
	Order(ctx context.Context, id string) (Order, error)
	// ByKey returns the order created with an idempotency key, or ErrNotFound.
	ByKey(ctx context.Context, key string) (Order, error)
	// ByUser returns up to limit of a user's orders, newest first.
	ByUser(ctx context.Context, userID string, limit int) ([]Order, error)
	// Since returns up to limit of the orders created at since or later,
	// newest first.
	Since(ctx context.Context, since time.Time, limit int) (Recent, error)
}

// Recent is what Since found. Partitioned orders also say what each
// partition answered; Partial is true when one did not, and Orders then
// holds the others' orders only.
type Recent struct {
	Orders     []Order            `json:"orders"`
	Partitions []partition.Answer `json:"partitions,omitempty"`
	Partial    bool               `json:"partial"`
}

// Errors of the orders service.
var (
	ErrNotFound = domain.New(domain.NotFound, "order not found")
	ErrInvalid  = domain.New(domain.Invalid, "invalid orders request")
)

// ValidID reports whether id is a well-formed order id.
func ValidID(id string) bool { return domain.Numbered(id, "o-", 6, 12) }

// ValidUserID reports whether id is a well-formed user id.
func ValidUserID(id string) bool { return domain.ValidUserID(id) }
