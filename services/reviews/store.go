package reviews

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"math"
	"slices"

	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// Store is the in-process reviews service over the seed reviews. It is
// read-only and safe for concurrent use.
type Store struct {
	byProduct map[string][]Review // best first
	summaries map[string]Summary
}

// New returns a Store holding the seed reviews.
func New() *Store {
	data := seed.Load[struct {
		Reviews []Review `json:"reviews"`
	}]("reviews", seedJSON)
	s := &Store{byProduct: map[string][]Review{}, summaries: map[string]Summary{}}
	for _, r := range data.Reviews {
		s.byProduct[r.ProductID] = append(s.byProduct[r.ProductID], r)
	}
	for id, rs := range s.byProduct {
		slices.SortFunc(rs, func(a, b Review) int {
			return cmp.Or(cmp.Compare(b.Rating, a.Rating), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		sum := 0
		for _, r := range rs {
			sum += r.Rating
		}
		avg := math.Round(float64(sum)/float64(len(rs))*100) / 100
		s.summaries[id] = Summary{ProductID: id, Count: len(rs), Average: avg}
	}
	return s
}

// Top implements Service.
func (s *Store) Top(_ context.Context, productID string, limit int) ([]Review, error) {
	if !ValidProductID(productID) {
		return nil, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	if limit < 1 || limit > MaxLimit {
		return nil, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	rs := s.byProduct[productID]
	return append([]Review{}, rs[:min(limit, len(rs))]...), nil
}

// Summary implements Service.
func (s *Store) Summary(_ context.Context, productID string) (Summary, error) {
	if !ValidProductID(productID) {
		return Summary{}, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	return s.summary(productID), nil
}

func (s *Store) summary(id string) Summary {
	if sum, ok := s.summaries[id]; ok {
		return sum
	}
	return Summary{ProductID: id}
}

// Summaries implements Service.
func (s *Store) Summaries(_ context.Context, productIDs []string) ([]Summary, error) {
	out := make([]Summary, 0, len(productIDs))
	for _, id := range productIDs {
		if !ValidProductID(id) {
			return nil, fmt.Errorf("malformed product id %q: %w", id, ErrInvalid)
		}
		out = append(out, s.summary(id))
	}
	return out, nil
}

var _ Service = (*Store)(nil)
