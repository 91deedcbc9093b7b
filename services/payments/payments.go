// Package payments charges and refunds customers through a fake payment
// processor (by design: no money moves). Store is the in-process
// implementation, over a database its replicas share (a SQLite file, or PostgreSQL); package
// paymentshttp carries the Service over HTTP.
package payments

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
)

// ChargeRequest asks for a charge. Key, when not empty, makes Charge
// idempotent: a second request with the same Key returns the first charge
// and never charges twice.
type ChargeRequest struct {
	UserID      string `json:"user_id"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Key         string `json:"idempotency_key,omitempty"`
}

// Charge statuses.
const (
	StatusSucceeded = "succeeded"
	StatusRefunded  = "refunded"
)

// Charge is a charge made by the processor.
type Charge struct {
	ID          string    `json:"id"`
	UserID      string    `json:"user_id"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	Status      string    `json:"status"`
	Key         string    `json:"idempotency_key,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// MaxAmountCents is the largest charge the fake processor accepts; above it
// a charge is declined, which lets demos and tests provoke a decline.
const MaxAmountCents = 1_000_000

// Service is the payments' contract.
type Service interface {
	// Charge charges a user, or returns ErrDeclined.
	Charge(ctx context.Context, req ChargeRequest) (Charge, error)
	// Refund refunds a charge; refunding twice is a no-op.
	Refund(ctx context.Context, chargeID string) (Charge, error)
	// ByKey returns the charge made with an idempotency key, or ErrNotFound.
	ByKey(ctx context.Context, key string) (Charge, error)
	// Get returns one charge, or ErrNotFound.
	Get(ctx context.Context, chargeID string) (Charge, error)
	// Succeeded returns at most limit charges still succeeded (not refunded)
	// that were made before before, oldest first: what a reconciler checks
	// against the orders.
	Succeeded(ctx context.Context, before time.Time, limit int) ([]Charge, error)
}

// Errors of the payments service.
var (
	ErrNotFound = domain.New(domain.NotFound, "charge not found")
	ErrDeclined = domain.New(domain.Rejected, "payment declined")
	ErrInvalid  = domain.New(domain.Invalid, "invalid payments request")
)

// ValidID reports whether id is a well-formed charge id.
func ValidID(id string) bool { return domain.Numbered(id, "ch-", 1, 12) }
