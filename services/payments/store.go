package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

const schema = `
CREATE TABLE IF NOT EXISTS charges (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      TEXT NOT NULL,
	amount_cents INTEGER NOT NULL,
	currency     TEXT NOT NULL,
	status       TEXT NOT NULL,
	idem_key     TEXT UNIQUE,
	created_at   TEXT NOT NULL
);
` + event.Schema

// Store is the in-process fake processor over a database (a SQLite file,
// or a schema of PostgreSQL): a charge made is never forgotten, and
// replicas that open the same database share their charges (see package
// sqldb). It is safe for concurrent use.
type Store struct {
	db *sqldb.DB
	// Outbox holds the events of the store's changes until the broker has them.
	*event.Outbox
}

// Open opens (creating when absent) the charges database at path.
func Open(path string) (*Store, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	s := &Store{db: db}
	s.Outbox = event.NewOutbox(db)
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func chargeID(seq int64) string { return fmt.Sprintf("ch-%d", seq) }

// Charge implements Service.
func (s *Store) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	if !domain.ValidUserID(req.UserID) || req.AmountCents < 1 || len(req.Currency) != 3 || (req.Key != "" && !domain.ValidKey(req.Key)) {
		return Charge{}, fmt.Errorf("charge %+v: %w", req, ErrInvalid)
	}
	var key sql.NullString
	if req.Key != "" {
		key = sql.NullString{String: req.Key, Valid: true}
		if c, err := s.one(ctx, "idem_key = ?", req.Key); !errors.Is(err, ErrNotFound) {
			return c, err // the key charged before (or the lookup failed)
		}
	}
	if req.AmountCents > MaxAmountCents {
		return Charge{}, fmt.Errorf("charge %d %s: %w", req.AmountCents, req.Currency, ErrDeclined)
	}
	now := time.Now().UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
	var seq int64
	err := s.db.Q(ctx).QueryRowContext(ctx, `INSERT INTO charges (user_id, amount_cents, currency, status, idem_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING RETURNING seq`,
		req.UserID, req.AmountCents, req.Currency, StatusSucceeded, key, now).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) { // a concurrent request with the key won
		return s.one(ctx, "idem_key = ?", req.Key)
	}
	if err != nil {
		return Charge{}, fmt.Errorf("charge: %w", err)
	}
	return s.one(ctx, "seq = ?", seq)
}

// Refund implements Service.
func (s *Store) Refund(ctx context.Context, id string) (Charge, error) {
	seq, err := parseID(id)
	if err != nil {
		return Charge{}, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE charges SET status = ? WHERE seq = ?`, StatusRefunded, seq); err != nil {
		return Charge{}, fmt.Errorf("refund %s: %w", id, err)
	}
	return s.get(ctx, id, seq)
}

// ByKey implements Service.
func (s *Store) ByKey(ctx context.Context, key string) (Charge, error) {
	if !domain.ValidKey(key) {
		return Charge{}, fmt.Errorf("malformed idempotency key: %w", ErrInvalid)
	}
	c, err := s.one(ctx, "idem_key = ?", key)
	if err != nil {
		return Charge{}, fmt.Errorf("charge with key %q: %w", key, err)
	}
	return c, nil
}

// Get implements Service.
func (s *Store) Get(ctx context.Context, id string) (Charge, error) {
	seq, err := parseID(id)
	if err != nil {
		return Charge{}, err
	}
	return s.get(ctx, id, seq)
}

func parseID(id string) (int64, error) {
	var seq int64
	if !ValidID(id) {
		return 0, fmt.Errorf("malformed charge id %q: %w", id, ErrInvalid)
	}
	fmt.Sscanf(id, "ch-%d", &seq)
	return seq, nil
}

func (s *Store) get(ctx context.Context, id string, seq int64) (Charge, error) {
	c, err := s.one(ctx, "seq = ?", seq)
	if err != nil {
		return Charge{}, fmt.Errorf("charge %s: %w", id, err)
	}
	return c, nil
}

// Succeeded implements Service.
func (s *Store) Succeeded(ctx context.Context, before time.Time, limit int) ([]Charge, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("limit %d, want 1 to 1000: %w", limit, ErrInvalid)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM charges WHERE status = ? ORDER BY seq`, StatusSucceeded)
	if err != nil {
		return nil, fmt.Errorf("succeeded charges: %w", err)
	}
	defer rows.Close()
	out := []Charge{}
	for rows.Next() && len(out) < limit {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if c.CreatedAt.Before(before) {
			out = append(out, c)
		}
	}
	return out, rows.Err()
}

const columns = `seq, user_id, amount_cents, currency, status, COALESCE(idem_key, ''), created_at`

// one returns the charge where holds, or ErrNotFound.
func (s *Store) one(ctx context.Context, where string, arg any) (Charge, error) {
	c, err := scan(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+columns+` FROM charges WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Charge{}, ErrNotFound
	}
	return c, err
}

// scan reads a charge's columns.
func scan(row interface{ Scan(...any) error }) (Charge, error) {
	var (
		c     Charge
		seq   int64
		stamp string
	)
	if err := row.Scan(&seq, &c.UserID, &c.AmountCents, &c.Currency, &c.Status, &c.Key, &stamp); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Charge{}, err
		}
		return Charge{}, fmt.Errorf("read charge: %w", err)
	}
	c.ID = chargeID(seq)
	var err error
	if c.CreatedAt, err = time.Parse(time.RFC3339Nano, stamp); err != nil {
		return Charge{}, fmt.Errorf("charge %s time: %w", c.ID, err)
	}
	return c, nil
}

var _ Service = (*Store)(nil)
