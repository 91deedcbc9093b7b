package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

// migrations are the versions of the orders database (see sqldb.Open).
var migrations = []string{`
CREATE TABLE IF NOT EXISTS orders (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id        TEXT NOT NULL,
	lines          TEXT NOT NULL,
	total_cents    INTEGER NOT NULL,
	currency       TEXT NOT NULL,
	payment_id     TEXT NOT NULL,
	reservation_id TEXT NOT NULL,
	idem_key       TEXT UNIQUE,
	status         TEXT NOT NULL,
	created_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_user ON orders (user_id, seq);
CREATE TABLE IF NOT EXISTS order_steps (
	order_seq INTEGER NOT NULL,
	step      TEXT NOT NULL,
	detail    TEXT NOT NULL,
	at        INTEGER NOT NULL -- when the event was (unix ns): a consumer per subject may take them out of order
);
CREATE INDEX IF NOT EXISTS order_steps_by_order ON order_steps (order_seq);
` + event.Schema,
	// Version 2 gives each step a number of its own, the order in which the
	// steps of one instant were recorded (version 1 left it to SQLite's
	// rowid, which PostgreSQL does not have).
	`
CREATE TABLE order_steps_numbered (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	order_seq INTEGER NOT NULL,
	step      TEXT NOT NULL,
	detail    TEXT NOT NULL,
	at        INTEGER NOT NULL
);
INSERT INTO order_steps_numbered (order_seq, step, detail, at) SELECT order_seq, step, detail, at FROM order_steps ORDER BY at;
DROP TABLE order_steps;
ALTER TABLE order_steps_numbered RENAME TO order_steps;
CREATE INDEX order_steps_by_order ON order_steps (order_seq, seq);
`}

// Store is the in-process orders service over a database (a SQLite file,
// or a schema of PostgreSQL). Several processes may open the same database
// (see package sqldb), which is how replicas share their orders. It is
// safe for concurrent use.
type Store struct {
	db *sqldb.DB
	// Outbox holds the events of the store's changes until the broker has them.
	*event.Outbox
	// part of parts: the store holds partition part of parts (0 of 1 when
	// whole), and its order numbers are seq*parts + part, so that an order
	// id tells its partition.
	part, parts int64
}

// Open opens (creating when absent) the database at path, making its
// directory if needed.
func Open(path string) (*Store, error) { return OpenPart(path, 0, 1) }

// OpenPart is Open for partition i of n: the order ids it gives are those
// that PartOf says are partition i's.
func OpenPart(path string, i, n int) (*Store, error) {
	if n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("orders: no partition %d of %d", i, n)
	}
	db, err := sqldb.Open(path, migrations...)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	s := &Store{db: db, part: int64(i), parts: int64(n)}
	s.Outbox = event.NewOutbox(db)
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) orderID(seq int64) string { return fmt.Sprintf("o-%06d", seq*s.parts+s.part) }

// number is the number in order id (checked by ValidID).
func number(id string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(id, "o-"), 10, 64)
	return n
}

// PartOf is the partition of n that order id is in.
func PartOf(id string, n int) int { return int(number(id) % int64(n)) }

func validate(o NewOrder) error {
	if !ValidUserID(o.UserID) {
		return fmt.Errorf("malformed user id %q: %w", o.UserID, ErrInvalid)
	}
	if len(o.Lines) == 0 {
		return fmt.Errorf("order has no lines: %w", ErrInvalid)
	}
	for _, l := range o.Lines {
		if !domain.ValidProductID(l.ProductID) || l.Quantity < 1 || l.PriceCents < 0 {
			return fmt.Errorf("bad line %+v: %w", l, ErrInvalid)
		}
	}
	if len(o.Currency) != 3 || (o.Key != "" && !domain.ValidKey(o.Key)) {
		return fmt.Errorf("bad currency or key: %w", ErrInvalid)
	}
	return nil
}

// Create implements Service.
func (s *Store) Create(ctx context.Context, o NewOrder) (Order, error) {
	if err := validate(o); err != nil {
		return Order{}, err
	}
	var total int64
	for _, l := range o.Lines {
		total += l.PriceCents * int64(l.Quantity)
	}
	lines, err := json.Marshal(o.Lines)
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	var key sql.NullString
	if o.Key != "" {
		key = sql.NullString{String: o.Key, Valid: true}
	}
	status := StatusPlaced
	if o.Choreographed {
		status = StatusPending
	}
	now := time.Now().UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano) // fine enough that orders of different partitions seldom tie
	var seq int64
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		seq = 0
		err := tx.QueryRowContext(ctx, `INSERT INTO orders
			(user_id, lines, total_cents, currency, payment_id, reservation_id, idem_key, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING RETURNING seq`,
			o.UserID, string(lines), total, o.Currency, o.PaymentID, o.ReservationID, key, status, now).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) { // the key was used before: replay
			return nil
		}
		if err != nil || !o.Choreographed {
			return err
		}
		return s.placed(ctx, tx, s.orderID(seq), o, total)
	})
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	if seq == 0 {
		return s.one(ctx, "idem_key = ?", o.Key)
	}
	if o.Choreographed {
		s.Committed()
	}
	return s.one(ctx, "seq = ?", seq)
}

// Order implements Service.
func (s *Store) Order(ctx context.Context, id string) (Order, error) {
	if !ValidID(id) {
		return Order{}, fmt.Errorf("malformed order id %q: %w", id, ErrInvalid)
	}
	n := number(id)
	if n%s.parts != s.part {
		return Order{}, fmt.Errorf("order %s: %w", id, ErrNotFound) // another partition's
	}
	o, err := s.one(ctx, "seq = ?", n/s.parts)
	if err == nil {
		o.Steps, err = s.steps(ctx, n/s.parts)
	}
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", id, err)
	}
	return o, nil
}

// ByKey implements Service.
func (s *Store) ByKey(ctx context.Context, key string) (Order, error) {
	if !domain.ValidKey(key) {
		return Order{}, fmt.Errorf("malformed idempotency key: %w", ErrInvalid)
	}
	o, err := s.one(ctx, "idem_key = ?", key)
	if err != nil {
		return Order{}, fmt.Errorf("order with key %q: %w", key, err)
	}
	return o, nil
}

// ByUser implements Service.
func (s *Store) ByUser(ctx context.Context, userID string, limit int) ([]Order, error) {
	if !ValidUserID(userID) {
		return nil, fmt.Errorf("malformed user id %q: %w", userID, ErrInvalid)
	}
	if limit < 1 || limit > MaxLimit {
		return nil, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	return s.query(ctx, "user_id = ? ORDER BY seq DESC LIMIT ?", userID, limit)
}

// Since implements Service. Orders are numbered in the order they are
// created, so the newest are the highest numbers.
func (s *Store) Since(ctx context.Context, since time.Time, limit int) (Recent, error) {
	if limit < 1 || limit > MaxLimit {
		return Recent{}, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	newest, err := s.query(ctx, "TRUE ORDER BY seq DESC LIMIT ?", limit)
	if err != nil {
		return Recent{}, err
	}
	rec := Recent{Orders: []Order{}}
	for _, o := range newest {
		if !o.CreatedAt.Before(since) {
			rec.Orders = append(rec.Orders, o)
		}
	}
	return rec, nil
}

func (s *Store) one(ctx context.Context, where string, args ...any) (Order, error) {
	found, err := s.query(ctx, where, args...)
	if err != nil {
		return Order{}, err
	}
	if len(found) == 0 {
		return Order{}, ErrNotFound
	}
	return found[0], nil
}

func (s *Store) query(ctx context.Context, where string, args ...any) ([]Order, error) {
	rows, err := s.db.Q(ctx).QueryContext(ctx, `SELECT seq, user_id, lines, total_cents, currency, payment_id,
		reservation_id, COALESCE(idem_key, ''), status, created_at FROM orders WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		var (
			o            Order
			seq          int64
			lines, stamp string
		)
		if err := rows.Scan(&seq, &o.UserID, &lines, &o.TotalCents, &o.Currency, &o.PaymentID,
			&o.ReservationID, &o.Key, &o.Status, &stamp); err != nil {
			return nil, fmt.Errorf("scan order: %w", err)
		}
		o.ID = s.orderID(seq)
		if err := json.Unmarshal([]byte(lines), &o.Lines); err != nil {
			return nil, fmt.Errorf("order %s lines: %w", o.ID, err)
		}
		if o.CreatedAt, err = time.Parse(time.RFC3339Nano, stamp); err != nil {
			return nil, fmt.Errorf("order %s time: %w", o.ID, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("query orders: %w", err)
	}
	return out, nil
}

var _ Service = (*Store)(nil)
