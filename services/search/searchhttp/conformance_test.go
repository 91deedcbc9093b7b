package searchhttp_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/search"
	"github.com/atrium-bff/atrium/services/search/searchhttp"
)

// catalogEvents are the events a new catalog publishes: one created event
// per product.
func catalogEvents(t testing.TB) []event.Event {
	t.Helper()
	c := conformance.Open(t, filepath.Join(t.TempDir(), "catalog.db"), catalog.Open)
	var out []event.Event
	if _, err := c.Relay(func(_ context.Context, e event.Event) error { out = append(out, e); return nil }).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

// indexed returns a search store that took events.
func indexed(t testing.TB, events []event.Event) *search.Store {
	t.Helper()
	s := conformance.Open(t, filepath.Join(t.TempDir(), "search.db"), search.Open)
	for _, e := range events {
		if err := s.Handle(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func ids(res search.Results) string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return strings.Join(out, ",")
}

func TestConformance(t *testing.T) {
	events := catalogEvents(t)
	sides := conformance.Sides[search.Service]{
		New:     func(t *testing.T) search.Service { return indexed(t, events) },
		Handler: searchhttp.NewHandler,
		Client:  func(u string) search.Service { return searchhttp.NewClient(u) },
	}
	conformance.Run(t, sides, func(t *testing.T, svc search.Service) {
		ctx := context.Background()
		t.Run("finds by word prefix, in name, category and description", func(t *testing.T) {
			for q, want := range map[string]string{
				"mouse":          "p017,p060",
				"Rivers":         "p048,p003", // stemmed: river, rivers; a short name weighs more
				"ergo mou":       "p017",
				"walnut chess":   "p029",
				"toys robot":     "p060",
				"  (robot) AND ": "p060", // the match language's syntax is words here
			} {
				res, err := svc.Query(ctx, q, 10)
				if err != nil {
					t.Fatalf("Query(%q): %v", q, err)
				}
				if got := ids(res); got != want {
					t.Errorf("Query(%q) = %s, want %s", q, got, want)
				}
				if res.Indexed != len(events) {
					t.Errorf("Query(%q): %d indexed, want %d", q, res.Indexed, len(events))
				}
			}
		})
		t.Run("limit", func(t *testing.T) {
			res, err := svc.Query(ctx, "books", 3)
			if err != nil || len(res.Hits) != 3 {
				t.Fatalf("Query(books, 3) = %d hits, %v", len(res.Hits), err)
			}
		})
		t.Run("rejects bad input", func(t *testing.T) {
			for _, tc := range []struct {
				q     string
				limit int
			}{{"", 10}, {"   ", 10}, {`"*:^()`, 10}, {strings.Repeat("a", search.MaxQuery+1), 10}, {"mouse", 0}, {"mouse", search.MaxLimit + 1}} {
				if _, err := svc.Query(ctx, tc.q, tc.limit); !errors.Is(err, search.ErrInvalid) {
					t.Errorf("Query(%.20q, %d) err = %v, want ErrInvalid", tc.q, tc.limit, err)
				}
			}
		})
	})
}

// TestTheIndexFollowsTheCatalogsEvents: an update changes the hit; an event
// taken again, or one older than what the index holds, changes nothing; an
// event that is no product's is poison (dead-lettered at once).
func TestTheIndexFollowsTheCatalogsEvents(t *testing.T) {
	ctx := context.Background()
	events := catalogEvents(t)
	s := indexed(t, events)
	c := conformance.Open(t, filepath.Join(t.TempDir(), "catalog.db"), catalog.Open)
	var updates []event.Event
	relay := c.Relay(func(_ context.Context, e event.Event) error {
		if e.Subject == catalog.SubjectProductUpdated {
			updates = append(updates, e)
		}
		return nil
	})
	for _, cents := range []int64{1111, 2222} {
		if _, err := c.SetPrice(ctx, "p017", cents); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := relay.Flush(ctx); err != nil || len(updates) != 2 {
		t.Fatalf("%d updates, %v", len(updates), err)
	}
	price := func() int64 {
		res, err := s.Query(ctx, "ergonomic", 1)
		if err != nil || len(res.Hits) != 1 {
			t.Fatalf("Query(ergonomic) = %+v, %v", res, err)
		}
		return res.Hits[0].PriceCents
	}
	for _, e := range []event.Event{updates[1], updates[0], updates[1], events[16]} { // newest first, then older ones and a repeat
		if err := s.Handle(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := price(); got != 2222 {
			t.Fatalf("after %s (%s): price %d, want 2222 (the newest)", e.Subject, e.ID, got)
		}
	}
	if res, _ := s.Query(ctx, "ergonomic", 10); res.Indexed != len(events) || len(res.Hits) != 1 {
		t.Errorf("after the repeats: %d indexed, %d hits; want %d and 1", res.Indexed, len(res.Hits), len(events))
	}
	bad := event.Event{ID: "ev-bad", Subject: catalog.SubjectProductUpdated, Data: []byte(`{"id":"x"}`)}
	if err := s.Handle(ctx, bad); !errors.Is(err, event.ErrPoison) {
		t.Errorf("a product event with no product: %v, want ErrPoison", err)
	}
	if err := s.Handle(ctx, event.Event{ID: "ev-other", Subject: "catalog.category.renamed", Data: []byte(`{}`)}); err != nil {
		t.Errorf("an event search does not use: %v, want nil (acknowledged)", err)
	}
}

// FuzzQuery: no query reaches the index as its match language: every one
// is answered, or refused as invalid.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"mouse", `"`, "a*", "NEAR(a b)", "x OR y", "-z", "col:word", "^start", "ü日本", "a\x00b"} {
		f.Add(q)
	}
	s := indexed(f, catalogEvents(f))
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := s.Query(context.Background(), q, search.MaxLimit); err != nil && !errors.Is(err, search.ErrInvalid) {
			t.Fatalf("Query(%q): %v", q, err)
		}
	})
}
