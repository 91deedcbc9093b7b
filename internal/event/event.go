// Package event is atrium's domain events as they travel through the
// broker, and the transactional outbox that publishes them: a service
// records an event in the same database transaction as the state change it
// tells of, and a relay publishes what the outbox holds. An event is thus
// published if and only if its change committed — at least once, with an id
// that the broker's de-duplication and every consumer use to take it once.
package event

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/atrium-bff/atrium/internal/sqldb"
)

// Event is a domain event: what happened (Subject, such as
// "catalog.product.updated"), when, and its data.
type Event struct {
	// ID is unique: the broker de-duplicates on it, and a consumer takes an
	// event it has taken before as done.
	ID      string          `json:"id"`
	Subject string          `json:"subject"`
	At      time.Time       `json:"at"`
	Data    json.RawMessage `json:"data"`
}

// New returns an event of subject with data as JSON, a fresh id and the
// time now.
func New(subject string, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", subject, err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	return Event{ID: "ev-" + hex.EncodeToString(id), Subject: subject, At: time.Now().UTC(), Data: b}, nil
}

// ErrPoison marks a handler's error that no redelivery can cure (data
// that does not decode): the broker dead-letters the event at once.
var ErrPoison = errors.New("event cannot be handled")

// Decode decodes the event's data into a T.
func Decode[T any](e Event) (T, error) {
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v, fmt.Errorf("event %s %s: %w", e.Subject, e.ID, err)
	}
	return v, nil
}

// Schema is the outbox table, for a store's own schema: events recorded
// and not yet published; and the inbox, the ids of the events the store's
// consumers took (Take).
const Schema = `
CREATE TABLE IF NOT EXISTS outbox (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      TEXT NOT NULL UNIQUE,
	subject TEXT NOT NULL,
	at      TEXT NOT NULL,
	data    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
	consumer TEXT NOT NULL,
	id       TEXT NOT NULL,
	at       INTEGER NOT NULL,
	PRIMARY KEY (consumer, id)
);
CREATE INDEX IF NOT EXISTS inbox_at ON inbox (at);
`

// Remembered is how long the inbox remembers an event taken: longer than
// the broker keeps one (seven days), so no redelivery outlives it.
const Remembered = 8 * 24 * time.Hour

// Take marks event id as taken by consumer within tx and reports whether
// it is the first time: a handler that takes an event, changes its store
// and records what follows in one transaction does all of it once, however
// often the broker delivers the event.
func Take(ctx context.Context, tx *sqldb.Tx, consumer, id string) (bool, error) {
	now := time.Now()
	res, err := tx.ExecContext(ctx, `INSERT INTO inbox (consumer, id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, consumer, id, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM inbox WHERE at < ?`, now.Add(-Remembered).UnixNano()); err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Record adds e to the outbox within tx: it is published if and only if tx
// commits.
func Record(ctx context.Context, tx *sqldb.Tx, e Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, subject, at, data) VALUES (?, ?, ?, ?)`,
		e.ID, e.Subject, e.At.Format(time.RFC3339Nano), string(e.Data))
	if err != nil {
		return fmt.Errorf("outbox: record %s: %w", e.Subject, err)
	}
	return nil
}

// Publish publishes one event; it returns only once the broker holds it.
type Publish func(ctx context.Context, e Event) error

// Relay publishes the outbox of db, oldest first, and deletes what the
// broker took. Several relays (the replicas of a service) may share one
// outbox: an event that two of them publish is one event to the broker,
// which de-duplicates on its id.
type Relay struct {
	DB      *sqldb.DB
	Publish Publish
	Logger  *slog.Logger
	// Kick, when not nil, wakes the relay at once (after a commit), instead
	// of at its next tick.
	Kick chan struct{}
}

// Run relays until ctx ends, every interval and whenever kicked.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil && r.Logger != nil {
			r.Logger.Warn("outbox: events not published yet; will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.Kick:
		}
	}
}

// Flush publishes what the outbox holds now and returns how many events
// it published. It stops at the first event the broker does not take,
// which stays for the next flush: events go out in the order they were
// recorded.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT seq, id, subject, at, data FROM outbox ORDER BY seq LIMIT 256`)
	if err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	type pending struct {
		seq int64
		e   Event
	}
	var batch []pending
	for rows.Next() {
		var (
			p        pending
			at, data string
		)
		if err := rows.Scan(&p.seq, &p.e.ID, &p.e.Subject, &at, &data); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: %w", err)
		}
		p.e.At, _ = time.Parse(time.RFC3339Nano, at)
		p.e.Data = json.RawMessage(data)
		batch = append(batch, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	for n, p := range batch {
		if err := r.Publish(ctx, p.e); err != nil {
			return n, fmt.Errorf("outbox: publish %s %s: %w", p.e.Subject, p.e.ID, err)
		}
		if _, err := r.DB.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ?`, p.seq); err != nil {
			return n, fmt.Errorf("outbox: %w", err)
		}
	}
	return len(batch), nil
}

// Outbox is a store's outbox, in the store's database: the store records
// events in it within its own transactions (Record), or takes an event and
// records what follows (Apply), and wakes the relay once they committed
// (Committed); Relay publishes them. A store embeds it.
type Outbox struct {
	db   *sqldb.DB
	kick chan struct{}
}

// NewOutbox returns the outbox in db, whose schema has Schema.
func NewOutbox(db *sqldb.DB) *Outbox { return &Outbox{db: db, kick: make(chan struct{}, 1)} }

// Committed wakes the relay at once, rather than at its next tick: events
// were committed. It never blocks.
func (o *Outbox) Committed() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Relay returns the relay of the outbox, woken by Committed; publish is
// the broker's.
func (o *Outbox) Relay(publish Publish) *Relay {
	return &Relay{DB: o.db, Publish: publish, Kick: o.kick}
}

// Apply has consumer take e once (the package's Apply, on the outbox's
// database), and wakes the relay when an event followed.
func (o *Outbox) Apply(ctx context.Context, consumer string, e Event, do func(ctx context.Context) (Next, error)) error {
	recorded, err := Apply(ctx, o.db, consumer, e, do)
	if recorded {
		o.Committed()
	}
	return err
}

// Next is the event a handler's change publishes: Subject "" for none.
type Next struct {
	Subject string
	Data    any
}

// Apply has consumer take e once, in one transaction of db: it marks e
// taken (Take), runs do with a context in which the store's own calls join
// the transaction (sqldb.Within), and records the event do returns. The
// change, what it publishes and the mark commit together or not at all, so
// an event delivered again changes nothing. It reports whether it recorded
// an event (to wake the relay).
func Apply(ctx context.Context, db *sqldb.DB, consumer string, e Event, do func(ctx context.Context) (Next, error)) (bool, error) {
	recorded := false
	err := db.Tx(ctx, func(tx *sqldb.Tx) error {
		if first, err := Take(ctx, tx, consumer, e.ID); err != nil || !first {
			return err
		}
		next, err := do(db.Within(ctx, tx))
		if err != nil || next.Subject == "" {
			return err
		}
		out, err := New(next.Subject, next.Data)
		if err != nil {
			return err
		}
		recorded = true
		return Record(ctx, tx, out)
	})
	return recorded && err == nil, err
}
