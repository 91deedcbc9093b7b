package inventory

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// MaxLineQuantity bounds one reservation line.
const MaxLineQuantity = 1000

// Store is the in-process inventory, starting from the seed stock. It is
// safe for concurrent use.
type Store struct {
	mu           sync.Mutex
	stock        map[string]*Stock
	reservations map[string]*Reservation
	next         int
}

// New returns a Store with the seed stock levels.
func New() *Store {
	data := seed.Load[struct {
		Stock []Stock `json:"stock"`
	}]("inventory", seedJSON)
	s := &Store{stock: make(map[string]*Stock, len(data.Stock)), reservations: map[string]*Reservation{}}
	for _, st := range data.Stock {
		s.stock[st.ProductID] = &Stock{ProductID: st.ProductID, Available: st.Available}
	}
	return s
}

// Stock implements Service.
func (s *Store) Stock(_ context.Context, productID string) (Stock, error) {
	if !ValidProductID(productID) {
		return Stock{}, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stock[productID]
	if !ok {
		return Stock{}, fmt.Errorf("stock of %s: %w", productID, ErrNotFound)
	}
	return *st, nil
}

// Stocks implements Service.
func (s *Store) Stocks(_ context.Context, productIDs []string) ([]Stock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seed.Pick(productIDs, ValidProductID, ErrInvalid, func(id string) (Stock, bool) {
		st, ok := s.stock[id]
		if !ok {
			return Stock{}, false
		}
		return *st, true
	})
}

// Reserve implements Service.
func (s *Store) Reserve(_ context.Context, lines []Line) (Reservation, error) {
	if len(lines) == 0 {
		return Reservation{}, fmt.Errorf("reserve: no lines: %w", ErrInvalid)
	}
	want := map[string]int{}
	for _, l := range lines {
		if !ValidProductID(l.ProductID) || l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return Reservation{}, fmt.Errorf("reserve: line %s x %d: %w", l.ProductID, l.Quantity, ErrInvalid)
		}
		want[l.ProductID] += l.Quantity
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, q := range want {
		st, ok := s.stock[id]
		if !ok {
			return Reservation{}, fmt.Errorf("reserve %s: %w", id, ErrNotFound)
		}
		if st.Available < q {
			return Reservation{}, fmt.Errorf("reserve %d of %s, %d available: %w", q, id, st.Available, ErrInsufficientStock)
		}
	}
	for id, q := range want {
		s.stock[id].Available -= q
		s.stock[id].Reserved += q
	}
	s.next++
	r := &Reservation{ID: fmt.Sprintf("res-%d", s.next), Lines: slices.Clone(lines), Status: StatusHeld}
	s.reservations[r.ID] = r
	return *r, nil
}

// Release implements Service.
func (s *Store) Release(_ context.Context, id string) (Reservation, error) {
	if !ValidReservationID(id) {
		return Reservation{}, fmt.Errorf("malformed reservation id %q: %w", id, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reservations[id]
	if !ok {
		return Reservation{}, fmt.Errorf("release %s: %w", id, ErrNotFound)
	}
	if r.Status == StatusHeld {
		for _, l := range r.Lines {
			s.stock[l.ProductID].Available += l.Quantity
			s.stock[l.ProductID].Reserved -= l.Quantity
		}
		r.Status = StatusReleased
	}
	return *r, nil
}

var _ Service = (*Store)(nil)
