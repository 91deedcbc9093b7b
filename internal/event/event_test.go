package event_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/testkit"
)

// open opens a store's database, with its outbox and inbox, where place
// says.
func open(t *testing.T, place func(string) string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(place("store"), event.Schema+`CREATE TABLE IF NOT EXISTS prices (id TEXT PRIMARY KEY, cents INTEGER);`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// change sets a price and records its event in one transaction, which
// fails after both when fail is true.
func change(t *testing.T, db *sqldb.DB, id string, cents int, fail bool) event.Event {
	t.Helper()
	e, err := event.New("catalog.product.updated", map[string]any{"id": id, "price_cents": cents})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = db.Tx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO prices VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET cents = excluded.cents`, id, cents); err != nil {
			return err
		}
		if err := event.Record(ctx, tx, e); err != nil {
			return err
		}
		if fail {
			return errors.New("the change fails after all")
		}
		return nil
	})
	if (err != nil) != fail {
		t.Fatalf("change: %v", err)
	}
	return e
}

func TestAnEventIsPublishedIfAndOnlyIfItsChangeCommitted(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		db := open(t, place)
		var published []event.Event
		up := true
		relay := &event.Relay{DB: db, Publish: func(_ context.Context, e event.Event) error {
			if !up {
				return errors.New("broker down")
			}
			published = append(published, e)
			return nil
		}}
		ctx := context.Background()
		committed := change(t, db, "p001", 1999, false)
		change(t, db, "p002", 500, true) // rolled back: no event
		second := change(t, db, "p003", 700, false)

		up = false
		if n, err := relay.Flush(ctx); err == nil || n != 0 || len(published) != 0 {
			t.Fatalf("flush with the broker down: %d, %v", n, err)
		}
		up = true
		if n, err := relay.Flush(ctx); err != nil || n != 2 {
			t.Fatalf("flush: %d, %v; want the two committed events", n, err)
		}
		if len(published) != 2 || published[0].ID != committed.ID || published[1].ID != second.ID {
			t.Fatalf("published %v; want the committed events in order", published)
		}
		if d, err := event.Decode[struct{ ID string }](published[0]); err != nil || d.ID != "p001" {
			t.Errorf("decoded %+v, %v", d, err)
		}
		if n, err := relay.Flush(ctx); err != nil || n != 0 {
			t.Errorf("a second flush published %d (%v); the first took them all", n, err)
		}
	})
}

func TestAFailedPublishKeepsTheOrder(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		db := open(t, place)
		a, b := change(t, db, "p001", 1, false), change(t, db, "p002", 2, false)
		var published []string
		fails := 1
		relay := &event.Relay{DB: db, Publish: func(_ context.Context, e event.Event) error {
			if e.ID == b.ID && fails > 0 {
				fails--
				return errors.New("not now")
			}
			published = append(published, e.ID)
			return nil
		}}
		ctx := context.Background()
		if n, err := relay.Flush(ctx); err == nil || n != 1 {
			t.Fatalf("flush: %d, %v; want the first published and an error", n, err)
		}
		if n, err := relay.Flush(ctx); err != nil || n != 1 {
			t.Fatalf("second flush: %d, %v", n, err)
		}
		if len(published) != 2 || published[0] != a.ID || published[1] != b.ID {
			t.Errorf("published %v, want %s then %s, each once", published, a.ID, b.ID)
		}
	})
}

// TestAKickedRelayPublishesAtOnce: a relay whose tick is an hour away
// publishes an event as soon as the commit that recorded it kicks it.
func TestAKickedRelayPublishesAtOnce(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		db := open(t, place)
		published := make(chan event.Event, 10)
		outbox := event.NewOutbox(db)
		relay := outbox.Relay(func(_ context.Context, e event.Event) error {
			published <- e
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { relay.Run(ctx, time.Hour); close(done) }()
		defer func() { cancel(); <-done }()
		for i := range 3 {
			e := change(t, db, "p001", i, false)
			outbox.Committed()
			outbox.Committed() // a second kick before the relay woke is one kick
			select {
			case got := <-published:
				if got.ID != e.ID {
					t.Fatalf("published %s, want %s", got.ID, e.ID)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("event %d not published within 10s of the kick", i)
			}
		}
	})
}

// TestApplyTakesAnEventOnce: a handler whose change fails leaves no trace
// (not even a savepoint's change it made and undid), and is taken again;
// one that succeeds changes the store, records its event, and is not run
// again for the same event.
func TestApplyTakesAnEventOnce(t *testing.T) {
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		db, ctx := open(t, place), context.Background()
		in, _ := event.New("order.placed", map[string]string{"order_id": "o-1"})
		runs := 0
		do := func(fail bool) func(ctx context.Context) (event.Next, error) {
			return func(ctx context.Context) (event.Next, error) {
				runs++
				err := db.Tx(ctx, func(tx *sqldb.Tx) error { // joins Apply's transaction
					_, err := tx.ExecContext(ctx, `INSERT INTO prices (id, cents) VALUES ('p1', 1)`)
					return err
				})
				if err != nil || fail {
					return event.Next{}, errors.Join(err, errors.New("boom"))
				}
				return event.Next{Subject: "inventory.committed", Data: map[string]string{"order_id": "o-1"}}, nil
			}
		}
		if recorded, err := event.Apply(ctx, db, "inventory", in, do(true)); err == nil || recorded {
			t.Fatalf("a failing handler: %v, recorded %v", err, recorded)
		}
		for range 2 {
			if _, err := event.Apply(ctx, db, "inventory", in, do(false)); err != nil {
				t.Fatal(err)
			}
		}
		var prices, outbox int
		db.QueryRowContext(ctx, `SELECT count(*) FROM prices`).Scan(&prices)
		db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE subject = 'inventory.committed'`).Scan(&outbox)
		if runs != 2 || prices != 1 || outbox != 1 {
			t.Errorf("handler ran %d times (want 2: the failure, then once), %d rows (want 1), %d events (want 1)", runs, prices, outbox)
		}
		if _, err := event.Apply(ctx, db, "search", in, do(false)); err == nil {
			t.Errorf("another consumer takes the event anew: want its handler run (and fail on the duplicate row)")
		}
	})
}
