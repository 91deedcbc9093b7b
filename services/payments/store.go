package payments

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Store is the in-process fake processor. Charges live in memory. It is
// safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	charges map[string]*Charge
	byKey   map[string]string
	next    int
}

// New returns a Store with no charges.
func New() *Store {
	return &Store{charges: map[string]*Charge{}, byKey: map[string]string{}}
}

// Charge implements Service.
func (s *Store) Charge(_ context.Context, req ChargeRequest) (Charge, error) {
	if !domain.ValidUserID(req.UserID) || req.AmountCents < 1 || len(req.Currency) != 3 || (req.Key != "" && !domain.ValidKey(req.Key)) {
		return Charge{}, fmt.Errorf("charge %+v: %w", req, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[req.Key]; ok && req.Key != "" {
		return *s.charges[id], nil
	}
	if req.AmountCents > MaxAmountCents {
		return Charge{}, fmt.Errorf("charge %d %s: %w", req.AmountCents, req.Currency, ErrDeclined)
	}
	s.next++
	c := &Charge{
		ID: fmt.Sprintf("ch-%d", s.next), UserID: req.UserID, AmountCents: req.AmountCents,
		Currency: req.Currency, Status: StatusSucceeded, Key: req.Key,
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	s.charges[c.ID] = c
	if req.Key != "" {
		s.byKey[req.Key] = c.ID
	}
	return *c, nil
}

// Refund implements Service.
func (s *Store) Refund(_ context.Context, id string) (Charge, error) {
	return s.with(id, func(c *Charge) { c.Status = StatusRefunded })
}

// ByKey implements Service.
func (s *Store) ByKey(_ context.Context, key string) (Charge, error) {
	if !domain.ValidKey(key) {
		return Charge{}, fmt.Errorf("malformed idempotency key: %w", ErrInvalid)
	}
	s.mu.Lock()
	id, ok := s.byKey[key]
	s.mu.Unlock()
	if !ok {
		return Charge{}, fmt.Errorf("charge with key %q: %w", key, ErrNotFound)
	}
	return s.with(id, func(*Charge) {})
}

// Get implements Service.
func (s *Store) Get(_ context.Context, id string) (Charge, error) {
	return s.with(id, func(*Charge) {})
}

func (s *Store) with(id string, f func(*Charge)) (Charge, error) {
	if !ValidID(id) {
		return Charge{}, fmt.Errorf("malformed charge id %q: %w", id, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[id]
	if !ok {
		return Charge{}, fmt.Errorf("charge %s: %w", id, ErrNotFound)
	}
	f(c)
	return *c, nil
}

var _ Service = (*Store)(nil)
