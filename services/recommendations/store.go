package recommendations

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// Store is the in-process recommender over the seed relations. It is
// read-only and safe for concurrent use.
type Store struct {
	related map[string][]Recommendation
}

// New returns a Store holding the seed relations.
func New() *Store {
	data := seed.Load[struct {
		Related map[string][]Recommendation `json:"related"`
	}]("recommendations", seedJSON)
	return &Store{related: data.Related}
}

// ForProduct implements Service.
func (s *Store) ForProduct(_ context.Context, productID string, limit int) ([]Recommendation, error) {
	if !ValidProductID(productID) {
		return nil, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	if limit < 1 || limit > MaxLimit {
		return nil, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	rs := s.related[productID]
	return append([]Recommendation{}, rs[:min(limit, len(rs))]...), nil
}

var _ Service = (*Store)(nil)
