// Package catalog is the product catalogue: products, their categories and
// prices. Its Service is the contract; Store is the in-process
// implementation, and package cataloghttp carries it over HTTP.
package catalog

import (
	"context"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Product is one item for sale. Prices are in minor units (cents).
type Product struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
}

// ListQuery selects a page of products. Zero fields mean: any category, no
// text filter, DefaultLimit, first page.
type ListQuery struct {
	Category string
	Q        string // case-insensitive substring of the name
	Limit    int
	Cursor   string // opaque, from a previous Page.NextCursor
}

// Page is one page of a listing. NextCursor is empty on the last page.
type Page struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Listing limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Service is the catalog's contract.
type Service interface {
	// Product returns one product, or ErrNotFound.
	Product(ctx context.Context, id string) (Product, error)
	// Products returns the products among ids that exist, in the order of
	// ids; unknown ids are left out.
	Products(ctx context.Context, ids []string) ([]Product, error)
	// List returns a page of products ordered by id.
	List(ctx context.Context, q ListQuery) (Page, error)
	// SetPrice changes a product's price and returns the product as it is
	// now; a SubjectProductUpdated event tells of it.
	SetPrice(ctx context.Context, id string, cents int64) (Product, error)
}

// The subjects of the catalog's events.
const (
	// SubjectProductCreated tells of a product new to the catalog (the
	// seed's products, once, when the catalog's database is made).
	SubjectProductCreated = "catalog.product.created"
	// SubjectProductUpdated tells of a product's new price.
	SubjectProductUpdated = "catalog.product.updated"
)

// ProductEvent is the data of the catalog's events: the product as it is
// after the change, which is enough for a read model (search) to keep its
// own copy without calling the catalog.
type ProductEvent struct {
	Product
	// PreviousCents is the price before an update; 0 for a created product.
	PreviousCents int64 `json:"previous_cents"`
	// Version counts the product's changes (0 when created): a consumer
	// can tell an older event from a newer one.
	Version int64 `json:"version"`
}

// Errors of the catalog.
var (
	ErrNotFound = domain.New(domain.NotFound, "product not found")
	ErrInvalid  = domain.New(domain.Invalid, "invalid catalog request")
)

// ValidID reports whether id is well-formed ("p" and 3 to 8 digits).
func ValidID(id string) bool { return domain.ValidProductID(id) }
