// Package reviews holds product reviews and their rating summaries. Store is
// the in-process implementation; package reviewshttp carries the Service
// over HTTP.
package reviews

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Review is one customer's review of a product.
type Review struct {
	ID        string    `json:"id"`
	ProductID string    `json:"product_id"`
	UserID    string    `json:"user_id"`
	Rating    int       `json:"rating"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Summary is a product's rating summary. Average is 0 when Count is 0.
type Summary struct {
	ProductID string  `json:"product_id"`
	Count     int     `json:"count"`
	Average   float64 `json:"average"`
}

// Limits of Top.
const (
	DefaultLimit = 3
	MaxLimit     = 50
)

// Service is the reviews' contract. A product without reviews is not an
// error: it has an empty list and a zero summary.
type Service interface {
	// Top returns up to limit reviews of a product, best rated first, newest
	// first among equals.
	Top(ctx context.Context, productID string, limit int) ([]Review, error)
	// Summary returns a product's rating summary.
	Summary(ctx context.Context, productID string) (Summary, error)
	// Summaries returns the summaries of ids, one per id, in order.
	Summaries(ctx context.Context, productIDs []string) ([]Summary, error)
}

// ErrInvalid reports a malformed request.
var ErrInvalid = domain.New(domain.Invalid, "invalid reviews request")

// ValidProductID reports whether id is a well-formed product id.
func ValidProductID(id string) bool { return domain.ValidProductID(id) }
