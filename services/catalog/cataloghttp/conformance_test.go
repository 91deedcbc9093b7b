package cataloghttp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/catalog/cataloghttp"
)

// sidesAt are the sides of the service with a fresh store where place says.
func sidesAt(place conformance.Place) conformance.Sides[catalog.Service] {
	return conformance.Sides[catalog.Service]{
		New:     func(t *testing.T) catalog.Service { return open(t, place("catalog")) },
		Handler: cataloghttp.NewHandler,
		Client:  func(u string) catalog.Service { return cataloghttp.NewClient(u) },
	}
}

func open(t *testing.T, path string) *catalog.Store { return conformance.Open(t, path, catalog.Open) }

func TestConformance(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		conformance.Run(t, sidesAt(place), func(t *testing.T, svc catalog.Service) {
			ctx := context.Background()

			t.Run("set price", func(t *testing.T) {
				before, _ := svc.Product(ctx, "p002")
				p, err := svc.SetPrice(ctx, "p002", before.PriceCents+100)
				if err != nil || p.PriceCents != before.PriceCents+100 || p.Name != before.Name {
					t.Fatalf("SetPrice = %+v, %v", p, err)
				}
				if got, _ := svc.Product(ctx, "p002"); got.PriceCents != p.PriceCents {
					t.Errorf("after SetPrice, Product(p002) costs %d, want %d", got.PriceCents, p.PriceCents)
				}
				if got, _ := svc.Products(ctx, []string{"p002"}); len(got) != 1 || got[0].PriceCents != p.PriceCents {
					t.Errorf("after SetPrice, Products(p002) = %+v", got)
				}
				for _, bad := range []int64{0, -5, catalog.MaxPriceCents + 1} {
					if _, err := svc.SetPrice(ctx, "p002", bad); !errors.Is(err, catalog.ErrInvalid) {
						t.Errorf("SetPrice(%d) err = %v, want ErrInvalid", bad, err)
					}
				}
				if _, err := svc.SetPrice(ctx, "p999", 100); !errors.Is(err, catalog.ErrNotFound) {
					t.Errorf("SetPrice(p999) err = %v, want ErrNotFound", err)
				}
				if _, err := svc.SetPrice(ctx, "p002", before.PriceCents); err != nil { // as it was, for the other subtests
					t.Fatal(err)
				}
			})

			t.Run("product", func(t *testing.T) {
				p, err := svc.Product(ctx, "p001")
				if err != nil {
					t.Fatal(err)
				}
				if p.ID != "p001" || p.Name == "" || p.PriceCents <= 0 || p.Currency != "EUR" {
					t.Errorf("Product(p001) = %+v", p)
				}
			})
			t.Run("errors", func(t *testing.T) {
				tests := []struct {
					id   string
					want error
				}{
					{"p999", catalog.ErrNotFound},
					{"x1", catalog.ErrInvalid},
					{"p001;drop", catalog.ErrInvalid},
				}
				for _, tt := range tests {
					if _, err := svc.Product(ctx, tt.id); !errors.Is(err, tt.want) {
						t.Errorf("Product(%q) err = %v, want %v", tt.id, err, tt.want)
					}
				}
			})
			t.Run("batch", func(t *testing.T) {
				ps, err := svc.Products(ctx, []string{"p003", "p999", "p001"})
				if err != nil {
					t.Fatal(err)
				}
				if len(ps) != 2 || ps[0].ID != "p003" || ps[1].ID != "p001" {
					t.Errorf("Products = %+v, want p003 then p001", ps)
				}
				if _, err := svc.Products(ctx, []string{"p001", "bad id"}); !errors.Is(err, catalog.ErrInvalid) {
					t.Errorf("Products with a malformed id: err = %v, want ErrInvalid", err)
				}
				ps, err = svc.Products(ctx, nil)
				if err != nil || len(ps) != 0 {
					t.Errorf("Products(nil) = %v, %v; want empty", ps, err)
				}
			})
			t.Run("list pages through everything", func(t *testing.T) {
				seen := map[string]bool{}
				q := catalog.ListQuery{Limit: 7}
				for pages := 0; ; pages++ {
					if pages > 20 {
						t.Fatal("listing does not end")
					}
					page, err := svc.List(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range page.Items {
						if seen[p.ID] {
							t.Fatalf("%s listed twice", p.ID)
						}
						seen[p.ID] = true
					}
					if page.NextCursor == "" {
						break
					}
					q.Cursor = page.NextCursor
				}
				if len(seen) < 60 {
					t.Errorf("listed %d products, want at least 60", len(seen))
				}
			})
			t.Run("list filters", func(t *testing.T) {
				page, err := svc.List(ctx, catalog.ListQuery{Category: "books", Q: "the", Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) == 0 {
					t.Fatal("no books matching 'the'")
				}
				for _, p := range page.Items {
					if p.Category != "books" {
						t.Errorf("%s is %s, not books", p.ID, p.Category)
					}
				}
			})
			t.Run("list rejects bad input", func(t *testing.T) {
				for _, q := range []catalog.ListQuery{{Limit: -1}, {Limit: 101}, {Cursor: "!!"}} {
					if _, err := svc.List(ctx, q); !errors.Is(err, catalog.ErrInvalid) {
						t.Errorf("List(%+v) err = %v, want ErrInvalid", q, err)
					}
				}
			})
		})
	})
}

// TestAPriceChangeIsAnEventAndReachesTheReplicas: a price change commits
// with its event, which the outbox's relay publishes; another replica on
// the same file takes the event and serves the new price, as does a store
// opened afterwards.
func TestAPriceChangeIsAnEventAndReachesTheReplicas(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		ctx := context.Background()
		path := place("catalog")
		a, b := open(t, path), open(t, path)
		var published []event.Event
		relay := a.Relay(func(_ context.Context, e event.Event) error { published = append(published, e); return nil })
		page, _ := a.List(ctx, catalog.ListQuery{Limit: catalog.MaxLimit})
		n, err := relay.Flush(ctx)
		if err != nil || n != len(page.Items) {
			t.Fatalf("relay published %d events, %v; want one created event per product (%d), though two replicas opened the file", n, err, len(page.Items))
		}
		for i, e := range published {
			c, err := event.Decode[catalog.ProductEvent](e)
			if err != nil || e.Subject != catalog.SubjectProductCreated || c.Product != page.Items[i] {
				t.Fatalf("created event %d: %s %+v, %v; want %+v", i, e.Subject, c, err, page.Items[i])
			}
		}
		published = nil
		before, _ := a.Product(ctx, "p007")
		if _, err := a.SetPrice(ctx, "p007", 1234); err != nil {
			t.Fatal(err)
		}
		n, err = relay.Flush(ctx)
		if err != nil || n != 1 {
			t.Fatalf("relay published %d events, %v; want one", n, err)
		}
		u, err := event.Decode[catalog.ProductEvent](published[0])
		if err != nil || published[0].Subject != catalog.SubjectProductUpdated || u.ID != "p007" || u.PriceCents != 1234 || u.PreviousCents != before.PriceCents || u.Version != 1 || u.Name != before.Name {
			t.Fatalf("event %+v: %+v, %v", published[0], u, err)
		}
		if p, _ := b.Product(ctx, "p007"); p.PriceCents != before.PriceCents {
			t.Fatalf("replica b changed before it heard of it: %d", p.PriceCents)
		}
		if err := b.Changed(ctx, published[0]); err != nil {
			t.Fatal(err)
		}
		if p, _ := b.Product(ctx, "p007"); p.PriceCents != 1234 {
			t.Errorf("replica b after the event: %d, want 1234", p.PriceCents)
		}
		if p, _ := open(t, path).Product(ctx, "p007"); p.PriceCents != 1234 {
			t.Errorf("a store opened afterwards: %d, want 1234", p.PriceCents)
		}
		if err := b.Changed(ctx, event.Event{ID: "ev-x", Subject: catalog.SubjectProductUpdated, Data: []byte(`"garbage"`)}); !errors.Is(err, event.ErrPoison) {
			t.Errorf("an event that does not decode: %v, want ErrPoison (dead-lettered at once)", err)
		}
	})
}
