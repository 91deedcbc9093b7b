package catalog

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/seed"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

//go:embed seed.json
var seedJSON []byte

const schema = `
CREATE TABLE IF NOT EXISTS prices (
	id      TEXT PRIMARY KEY,
	cents   INTEGER NOT NULL,
	version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY);
` + event.Schema

// Store is the in-process catalog: the seed products, with the prices set
// since kept in a database that the replicas share (a SQLite file, or
// PostgreSQL), beside the outbox of
// the events that tell of them. Reads take a snapshot held in memory, with
// no lock; a change makes a new snapshot. It is safe for concurrent use.
type Store struct {
	view atomic.Pointer[view]
	db   *sqldb.DB
	// Outbox holds the events of the store's changes until the broker has them.
	*event.Outbox
}

// view is one snapshot of the catalog.
type view struct {
	byID   map[string]Product
	sorted []Product
}

func newView(products []Product) *view {
	v := &view{byID: make(map[string]Product, len(products)), sorted: products}
	sort.Slice(v.sorted, func(i, j int) bool { return v.sorted[i].ID < v.sorted[j].ID })
	for _, p := range products {
		v.byID[p.ID] = p
	}
	return v
}

// seedProducts are the products shipped in the repository.
func seedProducts() []Product {
	return seed.Load[struct {
		Products []Product `json:"products"`
	}]("catalog", seedJSON).Products
}

// Open opens (creating when absent) the catalog's database at path and
// returns the catalog with its prices.
func Open(path string) (*Store, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	s := &Store{db: db}
	s.Outbox = event.NewOutbox(db)
	if err := s.announce(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.load(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// announce records a created event (SubjectProductCreated) of every
// product, once in the life of the database: the first replica to open it
// does, so that a read model that starts from nothing learns of every
// product from the events alone.
func (s *Store) announce(ctx context.Context) error {
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO meta (key) VALUES ('announced') ON CONFLICT DO NOTHING`)
		if err != nil {
			return fmt.Errorf("catalog: announce: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // announced before
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, cents, version FROM prices`)
		if err != nil {
			return fmt.Errorf("catalog: announce: %w", err)
		}
		set := map[string][2]int64{}
		for rows.Next() {
			var (
				id             string
				cents, version int64
			)
			if err := rows.Scan(&id, &cents, &version); err != nil {
				rows.Close()
				return fmt.Errorf("catalog: announce: %w", err)
			}
			set[id] = [2]int64{cents, version}
		}
		rows.Close()
		for _, p := range seedProducts() {
			ev := ProductEvent{Product: p}
			if v, ok := set[p.ID]; ok {
				ev.PriceCents, ev.Version = v[0], v[1]
			}
			e, err := event.New(SubjectProductCreated, ev)
			if err != nil {
				return err
			}
			if err := event.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// load makes the snapshot from the seed and every price set.
func (s *Store) load(ctx context.Context) error {
	products := seedProducts()
	prices, err := s.prices(ctx, "TRUE")
	if err != nil {
		return err
	}
	for i, p := range products {
		if cents, ok := prices[p.ID]; ok {
			products[i].PriceCents = cents
		}
	}
	s.view.Store(newView(products))
	return nil
}

// prices reads the prices set, by product, WHERE where.
func (s *Store) prices(ctx context.Context, where string, args ...any) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, cents FROM prices WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: prices: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			id    string
			cents int64
		)
		if err := rows.Scan(&id, &cents); err != nil {
			return nil, fmt.Errorf("catalog: prices: %w", err)
		}
		out[id] = cents
	}
	return out, rows.Err()
}

// MaxPriceCents bounds a price.
const MaxPriceCents = 100_000_000

// SetPrice implements Service: the price and its event
// (SubjectProductUpdated) commit together.
func (s *Store) SetPrice(ctx context.Context, id string, cents int64) (Product, error) {
	p, err := s.Product(ctx, id)
	if err != nil {
		return Product{}, err
	}
	if cents < 1 || cents > MaxPriceCents {
		return Product{}, fmt.Errorf("price %d: want 1 to %d cents: %w", cents, MaxPriceCents, ErrInvalid)
	}
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var version int64
		err := tx.QueryRowContext(ctx, `INSERT INTO prices (id, cents, version) VALUES (?, ?, 1)
			ON CONFLICT (id) DO UPDATE SET cents = excluded.cents, version = prices.version + 1 RETURNING version`, id, cents).Scan(&version)
		if err != nil {
			return fmt.Errorf("catalog: set price: %w", err)
		}
		now := p
		now.PriceCents = cents
		e, err := event.New(SubjectProductUpdated, ProductEvent{Product: now, PreviousCents: p.PriceCents, Version: version})
		if err != nil {
			return err
		}
		return event.Record(ctx, tx, e)
	})
	if err != nil {
		return Product{}, err
	}
	s.Committed()
	if err := s.Refresh(ctx, id); err != nil {
		return Product{}, err
	}
	return s.Product(ctx, id)
}

// Refresh reads product id's price from the database into the snapshot:
// what a replica does when another one changed it (Changed).
func (s *Store) Refresh(ctx context.Context, id string) error {
	prices, err := s.prices(ctx, "id = ?", id)
	if err != nil {
		return err
	}
	cents, ok := prices[id]
	if !ok {
		return nil
	}
	for {
		old := s.view.Load()
		p, ok := old.byID[id]
		if !ok || p.PriceCents == cents {
			return nil
		}
		p.PriceCents = cents
		products := make([]Product, len(old.sorted))
		copy(products, old.sorted)
		for i := range products {
			if products[i].ID == id {
				products[i] = p
			}
		}
		if s.view.CompareAndSwap(old, newView(products)) {
			return nil
		}
	}
}

// Follows is what a catalog replica follows: the catalog's own events.
func (s *Store) Follows() []string { return []string{SubjectProductUpdated} }

// Reload reads every price again.
func (s *Store) Reload(ctx context.Context) error { return s.load(ctx) }

// Changed takes a catalog event that any replica published: the product's
// price is read again from the database the replicas share.
func (s *Store) Changed(ctx context.Context, e event.Event) error {
	if e.Subject != SubjectProductUpdated {
		return nil
	}
	u, err := event.Decode[ProductEvent](e)
	if err != nil {
		return errors.Join(err, event.ErrPoison)
	}
	return s.Refresh(ctx, u.ID)
}

// Product implements Service.
func (s *Store) Product(_ context.Context, id string) (Product, error) {
	if !ValidID(id) {
		return Product{}, fmt.Errorf("malformed product id %q: %w", id, ErrInvalid)
	}
	p, ok := s.view.Load().byID[id]
	if !ok {
		return Product{}, fmt.Errorf("product %s: %w", id, ErrNotFound)
	}
	return p, nil
}

// Products implements Service.
func (s *Store) Products(_ context.Context, ids []string) ([]Product, error) {
	byID := s.view.Load().byID
	return seed.Pick(ids, ValidID, ErrInvalid, func(id string) (Product, bool) {
		p, ok := byID[id]
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
	sorted := s.view.Load().sorted
	start := sort.Search(len(sorted), func(i int) bool { return sorted[i].ID > after })
	needle := strings.ToLower(q.Q)
	page := Page{Items: []Product{}}
	for _, p := range sorted[start:] {
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
