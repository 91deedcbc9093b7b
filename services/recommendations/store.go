package recommendations

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
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
	var seed struct {
		Related map[string][]Recommendation `json:"related"`
	}
	if err := json.Unmarshal(seedJSON, &seed); err != nil {
		panic(fmt.Sprintf("recommendations: bad embedded seed: %v", err))
	}
	return &Store{related: seed.Related}
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
