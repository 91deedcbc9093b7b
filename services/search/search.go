// Package search is product search, a read model kept from the catalog's
// events: it never calls the catalog. Store holds its index in a SQLite
// file (full-text, FTS5) that it updates from every catalog.product.*
// event it consumes, through a durable consumer, so an event published
// while search was down is taken when it is back. Package searchhttp
// carries the Service over HTTP.
package search

import (
	"context"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Hit is a product that matches a query.
type Hit struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
}

// Results is what a query found, best first.
type Results struct {
	Hits []Hit `json:"hits"`
	// Indexed is how many products the index holds: fewer than the
	// catalog's while it is still taking the catalog's events.
	Indexed int `json:"indexed"`
}

// Limits of Query.
const (
	DefaultLimit = 10
	MaxLimit     = 50
	MaxQuery     = 100
)

// Service is search's contract.
type Service interface {
	// Query returns up to limit products whose name, category or
	// description match every word of q (a word matches the words it
	// begins), best first.
	Query(ctx context.Context, q string, limit int) (Results, error)
}

// ErrInvalid reports a malformed query.
var ErrInvalid = domain.New(domain.Invalid, "invalid search request")
