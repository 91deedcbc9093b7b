package inventory

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/seed"
	"github.com/atrium-bff/atrium/internal/sqldb"
)

//go:embed seed.json
var seedJSON []byte

// MaxLineQuantity bounds one reservation line.
const MaxLineQuantity = 1000

// Defaults of a Store's Options.
const (
	// DefaultHoldFor is how long a reservation is held before it expires:
	// far longer than a checkout takes.
	DefaultHoldFor = 2 * time.Minute
	// DefaultKeepFor is how long a reservation is remembered after it was
	// made, whatever became of it: long enough for any retry of its
	// checkout to find it, short enough to bound the database.
	DefaultKeepFor = time.Hour
)

// sweepEvery is how often, at most, reads look for holds that ran out:
// the stock a read shows is at most that late.
const sweepEvery = 100 * time.Millisecond

const schema = `
CREATE TABLE IF NOT EXISTS stock (
	product_id TEXT PRIMARY KEY,
	available  INTEGER NOT NULL,
	reserved   INTEGER NOT NULL DEFAULT 0,
	sold       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS reservations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	lines      TEXT NOT NULL,
	status     TEXT NOT NULL,
	made_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	user_id    TEXT NOT NULL,
	idem_key   TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS reservations_due ON reservations (status, expires_at);
CREATE INDEX IF NOT EXISTS reservations_made ON reservations (made_at);
` + event.Schema

// Store is the in-process inventory over a database (a SQLite file, or a
// schema of PostgreSQL), which starts from the seed stock: stock and
// reservations outlive a restart, and replicas that open the same
// database share them (see package sqldb). It is safe for concurrent use.
type Store struct {
	db               *sqldb.DB
	byIDs            *sql.Stmt // the stock of a JSON array of product ids
	holdFor, keepFor time.Duration
	now              func() time.Time
	swept            atomic.Int64 // when reads last looked for holds that ran out (unix ns)
	// Outbox holds the events of the store's changes until the broker has them.
	*event.Outbox
}

// Option configures a Store.
type Option func(*Store)

// HoldFor sets how long a reservation is held before it expires
// [DefaultHoldFor].
func HoldFor(d time.Duration) Option { return func(s *Store) { s.holdFor = d } }

// KeepFor sets how long a reservation is remembered after it was made
// [DefaultKeepFor]; it is at least the hold.
func KeepFor(d time.Duration) Option { return func(s *Store) { s.keepFor = d } }

// Clock sets the Store's clock [time.Now].
func Clock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating when absent) the inventory database at path; a new
// database starts with the seed stock.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := sqldb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	s := &Store{db: db, holdFor: DefaultHoldFor, keepFor: DefaultKeepFor, now: time.Now}
	s.Outbox = event.NewOutbox(db)
	for _, o := range opts {
		o(s)
	}
	s.keepFor = max(s.keepFor, s.holdFor)
	data := seed.Load[struct {
		Stock []Stock `json:"stock"`
	}]("inventory", seedJSON)
	ctx := context.Background()
	err = db.Tx(ctx, func(tx *sqldb.Tx) error {
		for _, st := range data.Stock {
			if _, err := tx.ExecContext(ctx, `INSERT INTO stock (product_id, available) VALUES (?, ?) ON CONFLICT DO NOTHING`, st.ProductID, st.Available); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		ids := `SELECT value FROM json_each(?)`
		if db.Postgres() {
			ids = `SELECT json_array_elements_text(?::json)`
		}
		s.byIDs, err = db.Prepare(`SELECT product_id, available, reserved, sold FROM stock WHERE product_id IN (` + ids + `)`)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory: seed %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.byIDs.Close()
	return s.db.Close()
}

// expire releases the holds that have run out and forgets the
// reservations made more than keepFor ago, within tx.
func (s *Store) expire(ctx context.Context, tx *sqldb.Tx, now time.Time) error {
	due, err := s.reservations(ctx, tx, "status = ? AND expires_at <= ?", StatusHeld, now.UnixNano())
	if err != nil {
		return err
	}
	for _, r := range due {
		if err := move(ctx, tx, r, "reserved = reserved - ?, available = available + ?"); err != nil {
			return err
		}
		if err := setStatus(ctx, tx, r, StatusExpired); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM reservations WHERE made_at <= ?`, now.Add(-s.keepFor).UnixNano()); err != nil {
		return fmt.Errorf("forget reservations: %w", err)
	}
	return nil
}

// sweep runs expire when reads have not looked for sweepEvery and there is
// something to do: a read then costs one indexed lookup at most.
func (s *Store) sweep(ctx context.Context) error {
	now := s.now()
	last := s.swept.Load()
	if now.UnixNano()-last < int64(sweepEvery) || !s.swept.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	var due bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reservations WHERE status = ? AND expires_at <= ?)
		OR EXISTS (SELECT 1 FROM reservations WHERE made_at <= ?)`,
		StatusHeld, now.UnixNano(), now.Add(-s.keepFor).UnixNano()).Scan(&due)
	if err != nil || !due {
		return err
	}
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error { return s.expire(ctx, tx, now) })
}

// Stock implements Service.
func (s *Store) Stock(ctx context.Context, productID string) (Stock, error) {
	if !ValidProductID(productID) {
		return Stock{}, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	found, err := s.stocks(ctx, []string{productID})
	if err != nil {
		return Stock{}, err
	}
	st, ok := found[productID]
	if !ok {
		return Stock{}, fmt.Errorf("stock of %s: %w", productID, ErrNotFound)
	}
	return st, nil
}

// Stocks implements Service.
func (s *Store) Stocks(ctx context.Context, productIDs []string) ([]Stock, error) {
	found, err := s.stocks(ctx, productIDs)
	if err != nil {
		return nil, err
	}
	return seed.Pick(productIDs, ValidProductID, ErrInvalid, func(id string) (Stock, bool) {
		st, ok := found[id]
		return st, ok
	})
}

// stocks reads the stock of the tracked products among ids.
func (s *Store) stocks(ctx context.Context, ids []string) (map[string]Stock, error) {
	if err := s.sweep(ctx); err != nil {
		return nil, fmt.Errorf("expire holds: %w", err)
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	rows, err := s.byIDs.QueryContext(ctx, string(list))
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	defer rows.Close()
	found := make(map[string]Stock, len(ids))
	for rows.Next() {
		var st Stock
		if err := rows.Scan(&st.ProductID, &st.Available, &st.Reserved, &st.Sold); err != nil {
			return nil, fmt.Errorf("read stock: %w", err)
		}
		found[st.ProductID] = st
	}
	return found, rows.Err()
}

// Reserve implements Service.
func (s *Store) Reserve(ctx context.Context, req ReserveRequest) (Reservation, error) {
	if len(req.Lines) == 0 {
		return Reservation{}, fmt.Errorf("reserve: no lines: %w", ErrInvalid)
	}
	if (req.Key != "" && !domain.ValidKey(req.Key)) || len(req.UserID) > 64 {
		return Reservation{}, fmt.Errorf("reserve: malformed idempotency key or user id: %w", ErrInvalid)
	}
	want := map[string]int{}
	for _, l := range req.Lines {
		if !ValidProductID(l.ProductID) || l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return Reservation{}, fmt.Errorf("reserve: line %s x %d: %w", l.ProductID, l.Quantity, ErrInvalid)
		}
		want[l.ProductID] += l.Quantity
	}
	lines, err := json.Marshal(req.Lines)
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	var r Reservation
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		if err := s.expire(ctx, tx, now); err != nil {
			return err
		}
		if req.Key != "" {
			prior, err := s.reservations(ctx, tx, "idem_key = ?", req.Key)
			if err != nil {
				return err
			}
			if len(prior) == 1 && (prior[0].Status == StatusHeld || prior[0].Status == StatusCommitted) {
				r = prior[0]
				return nil
			}
			// A released or expired reservation gives its key up.
			if _, err := tx.ExecContext(ctx, `UPDATE reservations SET idem_key = NULL WHERE idem_key = ?`, req.Key); err != nil {
				return fmt.Errorf("reserve: %w", err)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(want)) {
			var available int
			err := tx.QueryRowContext(ctx, `SELECT available FROM stock WHERE product_id = ?`, id).Scan(&available)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("reserve %s: %w", id, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("reserve %s: %w", id, err)
			}
			if available < want[id] {
				return fmt.Errorf("reserve %d of %s, %d available: %w", want[id], id, available, ErrInsufficientStock)
			}
		}
		var key sql.NullString
		if req.Key != "" {
			key = sql.NullString{String: req.Key, Valid: true}
		}
		var seq int64
		err := tx.QueryRowContext(ctx, `INSERT INTO reservations (lines, status, made_at, expires_at, user_id, idem_key)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`, string(lines), StatusHeld, now.UnixNano(), now.Add(s.holdFor).UnixNano(), req.UserID, key).Scan(&seq)
		if err != nil {
			return fmt.Errorf("reserve: %w", err)
		}
		expires := now.Add(s.holdFor)
		r = Reservation{ID: reservationID(seq), Lines: req.Lines, Status: StatusHeld, ExpiresAt: &expires, UserID: req.UserID, Key: req.Key}
		return move(ctx, tx, r, "available = available - ?, reserved = reserved + ?")
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// Commit implements Service.
func (s *Store) Commit(ctx context.Context, id string) (Reservation, error) {
	return s.update(ctx, id, "commit", func(tx *sqldb.Tx, r *Reservation) error {
		switch r.Status {
		case StatusHeld:
			if err := move(ctx, tx, *r, "reserved = reserved - ?, sold = sold + ?"); err != nil {
				return err
			}
			return setStatus(ctx, tx, *r, StatusCommitted)
		case StatusReleased, StatusExpired:
			return fmt.Errorf("commit %s (%s): %w", r.ID, r.Status, ErrNotHeld)
		}
		return nil
	})
}

// Release implements Service.
func (s *Store) Release(ctx context.Context, id string) (Reservation, error) {
	return s.update(ctx, id, "release", func(tx *sqldb.Tx, r *Reservation) error {
		var err error
		switch r.Status {
		case StatusHeld:
			err = move(ctx, tx, *r, "reserved = reserved - ?, available = available + ?")
		case StatusCommitted:
			err = move(ctx, tx, *r, "sold = sold - ?, available = available + ?")
		default:
			return nil
		}
		if err != nil {
			return err
		}
		return setStatus(ctx, tx, *r, StatusReleased)
	})
}

// update applies f to reservation id in a transaction, after expiring the
// holds that ran out, and returns the reservation as f left it.
func (s *Store) update(ctx context.Context, id, verb string, f func(*sqldb.Tx, *Reservation) error) (Reservation, error) {
	if !ValidReservationID(id) {
		return Reservation{}, fmt.Errorf("malformed reservation id %q: %w", id, ErrInvalid)
	}
	seq := seqOf(id)
	var r Reservation
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := s.expire(ctx, tx, s.now()); err != nil {
			return err
		}
		found, err := s.reservations(ctx, tx, "seq = ?", seq)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return fmt.Errorf("%s %s: %w", verb, id, ErrNotFound)
		}
		if err := f(tx, &found[0]); err != nil {
			return err
		}
		after, err := s.reservations(ctx, tx, "seq = ?", seq)
		if err == nil {
			r = after[0]
		}
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// Committed implements Service.
func (s *Store) Committed(ctx context.Context, before time.Time, limit int) ([]Reservation, error) {
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("limit %d, want 1 to 1000: %w", limit, ErrInvalid)
	}
	var out []Reservation
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) (err error) {
		out, err = s.reservations(ctx, tx, `status = ? AND made_at < ?`, StatusCommitted, before.UnixNano())
		return err
	})
	if out == nil {
		out = []Reservation{}
	}
	return out[:min(len(out), limit)], err
}

// reservations reads the reservations where holds, within tx.
func (s *Store) reservations(ctx context.Context, tx *sqldb.Tx, where string, args ...any) ([]Reservation, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, lines, status, expires_at, user_id, COALESCE(idem_key, '')
		FROM reservations WHERE `+where+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("read reservations: %w", err)
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		var (
			r       Reservation
			seq     int64
			lines   string
			expires int64
		)
		if err := rows.Scan(&seq, &lines, &r.Status, &expires, &r.UserID, &r.Key); err != nil {
			return nil, fmt.Errorf("read reservations: %w", err)
		}
		r.ID = reservationID(seq)
		if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil {
			return nil, fmt.Errorf("reservation %s lines: %w", r.ID, err)
		}
		if r.Status == StatusHeld || r.Status == StatusExpired {
			t := time.Unix(0, expires).UTC()
			r.ExpiresAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// move updates the stock of each of r's lines with set, whose two
// placeholders both take the line's quantity.
func move(ctx context.Context, tx *sqldb.Tx, r Reservation, set string) error {
	for _, l := range r.Lines {
		if _, err := tx.ExecContext(ctx, `UPDATE stock SET `+set+` WHERE product_id = ?`, l.Quantity, l.Quantity, l.ProductID); err != nil {
			return fmt.Errorf("stock of %s: %w", l.ProductID, err)
		}
	}
	return nil
}

func setStatus(ctx context.Context, tx *sqldb.Tx, r Reservation, status string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ? WHERE seq = ?`, status, seqOf(r.ID)); err != nil {
		return fmt.Errorf("reservation %s: %w", r.ID, err)
	}
	return nil
}

func reservationID(seq int64) string { return fmt.Sprintf("res-%d", seq) }

// seqOf is the row of a well-formed reservation id.
func seqOf(id string) int64 {
	var seq int64
	fmt.Sscanf(id, "res-%d", &seq)
	return seq
}

var _ Service = (*Store)(nil)
