// Package inventory tracks stock per product and the reservations that
// checkout holds against it. Store is the in-process implementation, over
// a database its replicas share (a SQLite file, or PostgreSQL); package inventoryhttp carries the
// Service over HTTP.
package inventory

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Stock is a product's stock level: Available is free to reserve, Reserved
// is held by reservations not yet committed, Sold by committed ones. Their
// sum only changes with the seed.
type Stock struct {
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
	Sold      int    `json:"sold"`
}

// Line is a quantity of one product.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Reservation statuses. A reservation is held until it is committed or
// released, or until its hold expires.
const (
	StatusHeld      = "held"
	StatusCommitted = "committed"
	StatusReleased  = "released"
	StatusExpired   = "expired"
)

// Reservation holds stock for lines. A held reservation expires at
// ExpiresAt unless it is committed first, so a checkout that dies between
// its steps cannot keep stock out of sale.
type Reservation struct {
	ID        string     `json:"id"`
	Lines     []Line     `json:"lines"`
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	UserID    string     `json:"user_id,omitempty"`
	Key       string     `json:"idempotency_key,omitempty"`
}

// ReserveRequest asks to hold stock for lines, for a user when UserID is
// set. Key, when not empty, makes Reserve idempotent: while the reservation
// made with Key is held or committed, a request with the same Key returns
// it, whatever its user and lines (the caller compares them).
type ReserveRequest struct {
	Lines  []Line `json:"lines"`
	UserID string `json:"user_id,omitempty"`
	Key    string `json:"idempotency_key,omitempty"`
}

// Service is the inventory's contract.
type Service interface {
	// Stock returns one product's stock, or ErrNotFound for a product the
	// inventory does not track.
	Stock(ctx context.Context, productID string) (Stock, error)
	// Stocks returns the stock of the tracked products among ids, in order.
	Stocks(ctx context.Context, productIDs []string) ([]Stock, error)
	// Reserve holds every line or none: ErrInsufficientStock when a line
	// asks for more than is available, ErrNotFound for an untracked product.
	Reserve(ctx context.Context, req ReserveRequest) (Reservation, error)
	// Commit turns a held reservation into a sale: its stock moves from
	// Reserved to Sold and it no longer expires. Committing twice is a
	// no-op; a released or expired reservation is ErrNotHeld.
	Commit(ctx context.Context, reservationID string) (Reservation, error)
	// Release returns a held or committed reservation's stock (the undo of
	// Reserve and of Commit). Releasing twice, or an expired reservation,
	// is a no-op.
	Release(ctx context.Context, reservationID string) (Reservation, error)
	// Committed returns at most limit committed reservations made before
	// before, oldest first: what a reconciler checks against the orders.
	Committed(ctx context.Context, before time.Time, limit int) ([]Reservation, error)
}

// Errors of the inventory.
var (
	ErrNotFound          = domain.New(domain.NotFound, "not found in inventory")
	ErrInsufficientStock = domain.New(domain.Conflict, "insufficient stock")
	ErrNotHeld           = domain.New(domain.Conflict, "reservation no longer held")
	ErrInvalid           = domain.New(domain.Invalid, "invalid inventory request")
)

// ValidProductID reports whether id is a well-formed product id.
func ValidProductID(id string) bool { return domain.ValidProductID(id) }

// ValidReservationID reports whether id is a well-formed reservation id.
func ValidReservationID(id string) bool { return domain.Numbered(id, "res-", 1, 12) }
