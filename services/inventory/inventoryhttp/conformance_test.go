package inventoryhttp_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/inventory/inventoryhttp"
)

// sidesAt are the sides of the service with a fresh store where place says.
func sidesAt(place conformance.Place) conformance.Sides[inventory.Service] {
	return conformance.Sides[inventory.Service]{
		New: func(t *testing.T) inventory.Service {
			return conformance.Open(t, place("inventory"), func(path string) (*inventory.Store, error) { return inventory.Open(path) })
		},
		Handler: inventoryhttp.NewHandler,
		Client:  func(u string) inventory.Service { return inventoryhttp.NewClient(u) },
	}
}

func TestConformance(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		conformance.Run(t, sidesAt(place), func(t *testing.T, svc inventory.Service) {
			ctx := context.Background()
			inStock := func(t *testing.T) inventory.Stock {
				t.Helper()
				all, err := svc.Stocks(ctx, []string{"p001", "p002", "p003", "p004", "p005", "p006", "p007", "p008"})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range all {
					if s.Available >= 5 {
						return s
					}
				}
				t.Fatal("no product with 5 in stock among p001..p008")
				return inventory.Stock{}
			}

			t.Run("stock and batch", func(t *testing.T) {
				st, err := svc.Stock(ctx, "p001")
				if err != nil || st.ProductID != "p001" || st.Available < 0 {
					t.Fatalf("Stock(p001) = %+v, %v", st, err)
				}
				all, err := svc.Stocks(ctx, []string{"p002", "p999", "p001"})
				if err != nil || len(all) != 2 || all[0].ProductID != "p002" || all[1] != st {
					t.Errorf("Stocks = %+v, %v", all, err)
				}
				if _, err := svc.Stock(ctx, "p999"); !errors.Is(err, inventory.ErrNotFound) {
					t.Errorf("Stock(p999) err = %v, want ErrNotFound", err)
				}
				if _, err := svc.Stock(ctx, "nope"); !errors.Is(err, inventory.ErrInvalid) {
					t.Errorf("Stock(nope) err = %v, want ErrInvalid", err)
				}
			})
			t.Run("reserve and release", func(t *testing.T) {
				before := inStock(t)
				r, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: before.ProductID, Quantity: 2}}})
				if err != nil || r.Status != inventory.StatusHeld || r.ID == "" {
					t.Fatalf("Reserve = %+v, %v", r, err)
				}
				held, _ := svc.Stock(ctx, before.ProductID)
				if held.Available != before.Available-2 || held.Reserved != before.Reserved+2 {
					t.Errorf("after reserving 2: %+v, before %+v", held, before)
				}
				for range 2 { // the second release is a no-op
					r, err = svc.Release(ctx, r.ID)
					if err != nil || r.Status != inventory.StatusReleased {
						t.Fatalf("Release = %+v, %v", r, err)
					}
				}
				if after, _ := svc.Stock(ctx, before.ProductID); after != before {
					t.Errorf("after release: %+v, want %+v", after, before)
				}
			})
			t.Run("commit sells, release undoes either", func(t *testing.T) {
				before := inStock(t)
				r, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: before.ProductID, Quantity: 3}}})
				if err != nil || r.ExpiresAt == nil {
					t.Fatalf("Reserve = %+v, %v; want a hold with an expiry", r, err)
				}
				for range 2 { // the second commit is a no-op
					r, err = svc.Commit(ctx, r.ID)
					if err != nil || r.Status != inventory.StatusCommitted || r.ExpiresAt != nil {
						t.Fatalf("Commit = %+v, %v", r, err)
					}
				}
				if list, err := svc.Committed(ctx, time.Now().Add(time.Minute), 10); err != nil || len(list) != 1 || list[0].ID != r.ID {
					t.Errorf("Committed = %+v, %v; want the one committed", list, err)
				}
				if list, err := svc.Committed(ctx, time.Now().Add(-time.Hour), 10); err != nil || len(list) != 0 {
					t.Errorf("Committed an hour ago = %+v, %v; want none", list, err)
				}
				sold, _ := svc.Stock(ctx, before.ProductID)
				if sold.Available != before.Available-3 || sold.Reserved != before.Reserved || sold.Sold != before.Sold+3 {
					t.Errorf("after committing 3: %+v, before %+v", sold, before)
				}
				if r, err = svc.Release(ctx, r.ID); err != nil || r.Status != inventory.StatusReleased {
					t.Fatalf("Release of a committed reservation = %+v, %v", r, err)
				}
				if after, _ := svc.Stock(ctx, before.ProductID); after != before {
					t.Errorf("after releasing the sale: %+v, want %+v", after, before)
				}
				if list, _ := svc.Committed(ctx, time.Now().Add(time.Minute), 10); len(list) != 0 {
					t.Errorf("Committed after the release = %+v, want none", list)
				}
				if _, err := svc.Commit(ctx, r.ID); !errors.Is(err, inventory.ErrNotHeld) {
					t.Errorf("Commit of a released reservation err = %v, want ErrNotHeld", err)
				}
				if _, err := svc.Commit(ctx, "res-424242"); !errors.Is(err, inventory.ErrNotFound) {
					t.Errorf("Commit of an unknown reservation err = %v, want ErrNotFound", err)
				}
				if _, err := svc.Commit(ctx, "nope"); !errors.Is(err, inventory.ErrInvalid) {
					t.Errorf("Commit(nope) err = %v, want ErrInvalid", err)
				}
			})
			t.Run("a key reserves once", func(t *testing.T) {
				before := inStock(t)
				req := inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: before.ProductID, Quantity: 1}}, UserID: "u01", Key: "conf-key-1"}
				first, err := svc.Reserve(ctx, req)
				if err != nil || first.Key != req.Key || first.UserID != "u01" {
					t.Fatalf("Reserve = %+v, %v", first, err)
				}
				again, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: before.ProductID, Quantity: 4}}, Key: req.Key})
				if err != nil || again.ID != first.ID || !slices.Equal(again.Lines, first.Lines) {
					t.Errorf("second Reserve with the key = %+v, %v; want %+v", again, err, first)
				}
				if st, _ := svc.Stock(ctx, before.ProductID); st.Available != before.Available-1 {
					t.Errorf("after two reservations with one key: %+v, before %+v", st, before)
				}
				if _, err := svc.Release(ctx, first.ID); err != nil {
					t.Fatal(err)
				}
				if next, err := svc.Reserve(ctx, req); err != nil || next.ID == first.ID || next.Status != inventory.StatusHeld {
					t.Errorf("Reserve with the key of a released reservation = %+v, %v; want a new hold", next, err)
				} else {
					svc.Release(ctx, next.ID)
				}
				if _, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: req.Lines, Key: "with space"}); !errors.Is(err, inventory.ErrInvalid) {
					t.Errorf("Reserve with a malformed key err = %v, want ErrInvalid", err)
				}
			})
			t.Run("reserve is all or nothing", func(t *testing.T) {
				ok := inStock(t)
				_, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: ok.ProductID, Quantity: 1}, {ProductID: ok.ProductID, Quantity: ok.Available}}})
				if !errors.Is(err, inventory.ErrInsufficientStock) {
					t.Fatalf("over-reserve err = %v, want ErrInsufficientStock", err)
				}
				if after, _ := svc.Stock(ctx, ok.ProductID); after != ok {
					t.Errorf("a failed reservation changed stock: %+v, was %+v", after, ok)
				}
				if _, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: []inventory.Line{{ProductID: "p999", Quantity: 1}}}); !errors.Is(err, inventory.ErrNotFound) {
					t.Errorf("reserve unknown product err = %v", err)
				}
				for _, lines := range [][]inventory.Line{nil, {{ProductID: ok.ProductID, Quantity: 0}}, {{ProductID: "x", Quantity: 1}}} {
					if _, err := svc.Reserve(ctx, inventory.ReserveRequest{Lines: lines}); !errors.Is(err, inventory.ErrInvalid) {
						t.Errorf("Reserve(%v) err = %v, want ErrInvalid", lines, err)
					}
				}
				if _, err := svc.Release(ctx, "res-424242"); !errors.Is(err, inventory.ErrNotFound) {
					t.Errorf("release unknown err = %v", err)
				}
			})
		})
	})
}
