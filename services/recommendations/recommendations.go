// Package recommendations suggests products related to a product. Store is
// the in-process implementation; package recommendationshttp carries the
// Service over HTTP.
package recommendations

import (
	"context"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Recommendation is a related product with a relevance score in (0, 1].
type Recommendation struct {
	ProductID string  `json:"product_id"`
	Score     float64 `json:"score"`
}

// Limits of ForProduct.
const (
	DefaultLimit = 4
	MaxLimit     = 20
)

// Service is the recommendations' contract.
type Service interface {
	// ForProduct returns up to limit products related to productID, most
	// relevant first; a product with no relations has an empty list.
	ForProduct(ctx context.Context, productID string, limit int) ([]Recommendation, error)
}

// ErrInvalid reports a malformed request.
var ErrInvalid = domain.New(domain.Invalid, "invalid recommendations request")

// ValidProductID reports whether id is a well-formed product id.
func ValidProductID(id string) bool { return domain.ValidProductID(id) }
