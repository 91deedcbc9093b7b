package cataloghttp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/catalog/cataloghttp"
)

var sides = conformance.Sides[catalog.Service]{
	New:     func(*testing.T) catalog.Service { return catalog.New() },
	Handler: cataloghttp.NewHandler,
	Client:  func(u string) catalog.Service { return cataloghttp.NewClient(u) },
}

func TestConformance(t *testing.T) {
	conformance.Run(t, sides, func(t *testing.T, svc catalog.Service) {
		ctx := context.Background()

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
}
