// Package cart holds each user's shopping cart. Store is the in-process
// implementation, over a database its replicas share (a SQLite file, or PostgreSQL); package carthttp
// carries the Service over HTTP. The cart knows product ids only: checking
// that a product exists and is in stock is the orchestration layer's job,
// which sees the catalog and the inventory.
package cart

import (
	"context"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Item is a quantity of one product in a cart.
type Item struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Cart is a user's cart; Items are in the order they were first added.
type Cart struct {
	UserID string `json:"user_id"`
	Items  []Item `json:"items"`
}

// Limits of a cart.
const (
	MaxQuantity = 99
	MaxItems    = 50
)

// Service is the cart's contract. Every user has a cart, empty at first.
type Service interface {
	// Cart returns the user's cart.
	Cart(ctx context.Context, userID string) (Cart, error)
	// SetItem sets the quantity of a product in the cart (adding it when
	// absent) and returns the cart.
	SetItem(ctx context.Context, userID string, item Item) (Cart, error)
	// RemoveItem removes a product from the cart, or returns ErrNotFound
	// when it is not there.
	RemoveItem(ctx context.Context, userID, productID string) (Cart, error)
	// Clear empties the cart.
	Clear(ctx context.Context, userID string) (Cart, error)
}

// Errors of the cart.
var (
	ErrNotFound = domain.New(domain.NotFound, "item not in cart")
	ErrFull     = domain.New(domain.Conflict, "cart is full")
	ErrInvalid  = domain.New(domain.Invalid, "invalid cart request")
)

// ValidUserID reports whether id is a well-formed user id.
func ValidUserID(id string) bool { return domain.ValidUserID(id) }

// ValidProductID reports whether id is a well-formed product id.
func ValidProductID(id string) bool { return domain.ValidProductID(id) }
