package cart

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Store is the in-process cart service. Carts live in memory: a restart
// empties them, and replicas do not share them. It is safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	carts map[string][]Item
}

// New returns a Store where every cart is empty.
func New() *Store { return &Store{carts: map[string][]Item{}} }

// cart copies a user's cart; the caller holds s.mu.
func (s *Store) cart(userID string) Cart {
	items := slices.Clone(s.carts[userID])
	if items == nil {
		items = []Item{}
	}
	return Cart{UserID: userID, Items: items}
}

func checkUser(userID string) error {
	if !ValidUserID(userID) {
		return fmt.Errorf("malformed user id %q: %w", userID, ErrInvalid)
	}
	return nil
}

func checkItem(userID, productID string) error {
	if err := checkUser(userID); err != nil {
		return err
	}
	if !ValidProductID(productID) {
		return fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	return nil
}

// Cart implements Service.
func (s *Store) Cart(_ context.Context, userID string) (Cart, error) {
	if err := checkUser(userID); err != nil {
		return Cart{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cart(userID), nil
}

// SetItem implements Service.
func (s *Store) SetItem(_ context.Context, userID string, item Item) (Cart, error) {
	if err := checkItem(userID, item.ProductID); err != nil {
		return Cart{}, err
	}
	if item.Quantity < 1 || item.Quantity > MaxQuantity {
		return Cart{}, fmt.Errorf("quantity %d not in 1..%d: %w", item.Quantity, MaxQuantity, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.carts[userID]
	if i := slices.IndexFunc(items, func(it Item) bool { return it.ProductID == item.ProductID }); i >= 0 {
		items[i].Quantity = item.Quantity
	} else if len(items) >= MaxItems {
		return Cart{}, fmt.Errorf("add %s: %d items: %w", item.ProductID, len(items), ErrFull)
	} else {
		s.carts[userID] = append(items, item)
	}
	return s.cart(userID), nil
}

// RemoveItem implements Service.
func (s *Store) RemoveItem(_ context.Context, userID, productID string) (Cart, error) {
	if err := checkItem(userID, productID); err != nil {
		return Cart{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.carts[userID]
	i := slices.IndexFunc(items, func(it Item) bool { return it.ProductID == productID })
	if i < 0 {
		return Cart{}, fmt.Errorf("remove %s: %w", productID, ErrNotFound)
	}
	s.carts[userID] = slices.Delete(items, i, i+1)
	return s.cart(userID), nil
}

// Clear implements Service.
func (s *Store) Clear(_ context.Context, userID string) (Cart, error) {
	if err := checkUser(userID); err != nil {
		return Cart{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.carts, userID)
	return s.cart(userID), nil
}

var _ Service = (*Store)(nil)
