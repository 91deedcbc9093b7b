package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

// The catalog's events that search takes. Search knows them by their
// subjects and their JSON alone, as any consumer of the broker would: it
// imports nothing of the catalog's.
const (
	subjectCreated = "catalog.product.created"
	subjectUpdated = "catalog.product.updated"
)

// product is the data of the catalog's product events, as far as search
// uses it.
type product struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Version     int64  `json:"version"`
}

const schema = `
CREATE TABLE IF NOT EXISTS products (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	category    TEXT NOT NULL,
	description TEXT NOT NULL,
	price_cents INTEGER NOT NULL,
	currency    TEXT NOT NULL,
	version     INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(id UNINDEXED, name, category, description, tokenize = 'porter unicode61');
`

// Store is search over its own index, which Handle keeps from the
// catalog's events. It is safe for concurrent use, and its replicas may
// share its file.
type Store struct{ db *sqldb.DB }

// Open opens (creating when absent) the index at path.
func Open(path string) (*Store, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the index.
func (s *Store) Close() error { return s.db.Close() }

// Consumes names search's durable consumer and what it takes: every
// product event of the catalog.
func (s *Store) Consumes() (string, []string) { return "search", []string{"catalog.product.>"} }

// Handle takes one catalog event into the index. It is idempotent: an
// event it took before, or older than what it holds (by the product's
// version), changes nothing.
func (s *Store) Handle(ctx context.Context, e event.Event) error {
	if e.Subject != subjectCreated && e.Subject != subjectUpdated {
		return nil
	}
	u, err := event.Decode[product](e)
	if err != nil || !domain.ValidProductID(u.ID) || u.Name == "" {
		return errors.Join(fmt.Errorf("search: event %s: not a product", e.ID), err, event.ErrPoison)
	}
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var version int64
		switch err := tx.QueryRowContext(ctx, `SELECT version FROM products WHERE id = ?`, u.ID).Scan(&version); {
		case err == nil && version >= u.Version:
			return nil // as new or newer already
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("search: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (id, name, category, description, price_cents, currency, version)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category,
			description = excluded.description, price_cents = excluded.price_cents, currency = excluded.currency, version = excluded.version`,
			u.ID, u.Name, u.Category, u.Description, u.PriceCents, u.Currency, u.Version); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE id = ?`, u.ID); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO docs (id, name, category, description) VALUES (?, ?, ?, ?)`,
			u.ID, u.Name, u.Category, u.Description); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		return nil
	})
}

// match turns a query into a full-text match of every word as a prefix:
// `"river"* "guid"*`. Punctuation separates words and is dropped, so no
// query is read as the match language's own syntax.
func match(q string) (string, error) {
	if len(q) > MaxQuery {
		return "", fmt.Errorf("query of %d bytes: want at most %d: %w", len(q), MaxQuery, ErrInvalid)
	}
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return "", fmt.Errorf("query %q has no word to look for: %w", q, ErrInvalid)
	}
	for i, w := range words {
		words[i] = `"` + strings.ToLower(w) + `"*`
	}
	return strings.Join(words, " "), nil
}

// Query implements Service: best first, a match in the name weighing most.
func (s *Store) Query(ctx context.Context, q string, limit int) (Results, error) {
	if limit < 1 || limit > MaxLimit {
		return Results{}, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	m, err := match(q)
	if err != nil {
		return Results{}, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT p.id, p.name, p.category, p.price_cents, p.currency
		FROM docs JOIN products p ON p.id = docs.id WHERE docs MATCH ? ORDER BY bm25(docs, 0, 10, 3, 1), p.id LIMIT ?`, m, limit)
	if err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	res := Results{Hits: []Hit{}}
	for rows.Next() {
		var h Hit
		if err := rows.Scan(&h.ID, &h.Name, &h.Category, &h.PriceCents, &h.Currency); err != nil {
			return Results{}, fmt.Errorf("search: %w", err)
		}
		res.Hits = append(res.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM products`).Scan(&res.Indexed); err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

var _ Service = (*Store)(nil)
