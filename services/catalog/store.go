package catalog

import (
	"context"
	_ "embed"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// Store is the in-process catalog, loaded from the seed data shipped in the
// repository. It is read-only and safe for concurrent use.
type Store struct {
	byID   map[string]Product
	sorted []Product
}

// New returns a Store holding the seed catalog.
func New() *Store {
	data := seed.Load[struct {
		Products []Product `json:"products"`
	}]("catalog", seedJSON)
	s := &Store{byID: make(map[string]Product, len(data.Products)), sorted: data.Products}
	sort.Slice(s.sorted, func(i, j int) bool { return s.sorted[i].ID < s.sorted[j].ID })
	for _, p := range data.Products {
		s.byID[p.ID] = p
	}
	return s
}

// Product implements Service.
func (s *Store) Product(_ context.Context, id string) (Product, error) {
	if !ValidID(id) {
		return Product{}, fmt.Errorf("malformed product id %q: %w", id, ErrInvalid)
	}
	p, ok := s.byID[id]
	if !ok {
		return Product{}, fmt.Errorf("product %s: %w", id, ErrNotFound)
	}
	return p, nil
}

// Products implements Service.
func (s *Store) Products(_ context.Context, ids []string) ([]Product, error) {
	return seed.Pick(ids, ValidID, ErrInvalid, func(id string) (Product, bool) {
		p, ok := s.byID[id]
		return p, ok
	})
}

// List implements Service.
func (s *Store) List(_ context.Context, q ListQuery) (Page, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	after, err := DecodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	start := sort.Search(len(s.sorted), func(i int) bool { return s.sorted[i].ID > after })
	needle := strings.ToLower(q.Q)
	page := Page{Items: []Product{}}
	for _, p := range s.sorted[start:] {
		if q.Category != "" && p.Category != q.Category {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(p.Name), needle) {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = EncodeCursor(page.Items[limit-1].ID)
			break
		}
		page.Items = append(page.Items, p)
	}
	return page, nil
}

// EncodeCursor makes the opaque cursor that resumes a listing after id.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// DecodeCursor is the inverse of EncodeCursor; "" is the first page.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !ValidID(string(b)) {
		return "", fmt.Errorf("malformed cursor %q: %w", c, ErrInvalid)
	}
	return string(b), nil
}

var _ Service = (*Store)(nil)
