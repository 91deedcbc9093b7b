// Package inventory tracks stock per product and the reservations that
// checkout holds against it. Store is the in-process implementation;
// package inventoryhttp carries the Service over HTTP.
package inventory

import (
	"context"
	"regexp"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Stock is a product's stock level. Available excludes what is reserved.
type Stock struct {
	ProductID string `json:"product_id"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
}

// Line is a quantity of one product.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Reservation statuses.
const (
	StatusHeld     = "held"
	StatusReleased = "released"
)

// Reservation holds stock for lines until it is released.
type Reservation struct {
	ID     string `json:"id"`
	Lines  []Line `json:"lines"`
	Status string `json:"status"`
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
	Reserve(ctx context.Context, lines []Line) (Reservation, error)
	// Release returns a held reservation's stock. Releasing twice is a no-op.
	Release(ctx context.Context, reservationID string) (Reservation, error)
}

// Errors of the inventory.
var (
	ErrNotFound          = domain.New(domain.NotFound, "not found in inventory")
	ErrInsufficientStock = domain.New(domain.Conflict, "insufficient stock")
	ErrInvalid           = domain.New(domain.Invalid, "invalid inventory request")
)

var (
	productPattern     = regexp.MustCompile(`^p[0-9]{3,8}$`)
	reservationPattern = regexp.MustCompile(`^res-[0-9]{1,12}$`)
)

// ValidProductID reports whether id is a well-formed product id.
func ValidProductID(id string) bool { return productPattern.MatchString(id) }

// ValidReservationID reports whether id is a well-formed reservation id.
func ValidReservationID(id string) bool { return reservationPattern.MatchString(id) }
