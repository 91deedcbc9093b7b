package carthttp_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/atrium-bff/atrium/internal/conformance"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/cart/carthttp"
)

// sidesAt are the sides of the service with a fresh store where place says.
func sidesAt(place conformance.Place) conformance.Sides[cart.Service] {
	return conformance.Sides[cart.Service]{
		New: func(t *testing.T) cart.Service {
			return conformance.Open(t, place("cart"), cart.Open)
		},
		Handler: carthttp.NewHandler,
		Client:  func(u string) cart.Service { return carthttp.NewClient(u) },
	}
}

func TestConformance(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		conformance.Run(t, sidesAt(place), func(t *testing.T, svc cart.Service) {
			ctx := context.Background()
			want := func(t *testing.T, got cart.Cart, err error, items ...cart.Item) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if items == nil {
					items = []cart.Item{}
				}
				if got.UserID != "u01" || !reflect.DeepEqual(got.Items, items) {
					t.Fatalf("cart = %+v, want items %+v", got, items)
				}
			}
			c, err := svc.Cart(ctx, "u01")
			want(t, c, err)
			c, err = svc.SetItem(ctx, "u01", cart.Item{ProductID: "p002", Quantity: 1})
			want(t, c, err, cart.Item{ProductID: "p002", Quantity: 1})
			c, err = svc.SetItem(ctx, "u01", cart.Item{ProductID: "p001", Quantity: 3})
			want(t, c, err, cart.Item{ProductID: "p002", Quantity: 1}, cart.Item{ProductID: "p001", Quantity: 3})
			c, err = svc.SetItem(ctx, "u01", cart.Item{ProductID: "p002", Quantity: 5})
			want(t, c, err, cart.Item{ProductID: "p002", Quantity: 5}, cart.Item{ProductID: "p001", Quantity: 3})
			c, err = svc.Cart(ctx, "u01")
			want(t, c, err, cart.Item{ProductID: "p002", Quantity: 5}, cart.Item{ProductID: "p001", Quantity: 3})
			c, err = svc.RemoveItem(ctx, "u01", "p002")
			want(t, c, err, cart.Item{ProductID: "p001", Quantity: 3})
			if _, err := svc.RemoveItem(ctx, "u01", "p002"); !errors.Is(err, cart.ErrNotFound) {
				t.Errorf("removing an absent item: err = %v, want ErrNotFound", err)
			}
			if other, err := svc.Cart(ctx, "u02"); err != nil || len(other.Items) != 0 {
				t.Errorf("u02's cart = %+v, %v; carts must not leak between users", other, err)
			}
			c, err = svc.Clear(ctx, "u01")
			want(t, c, err)

			for _, bad := range []struct {
				user string
				item cart.Item
			}{
				{"u01", cart.Item{ProductID: "p001", Quantity: 0}},
				{"u01", cart.Item{ProductID: "p001", Quantity: cart.MaxQuantity + 1}},
				{"u01", cart.Item{ProductID: "pp", Quantity: 1}},
				{"root", cart.Item{ProductID: "p001", Quantity: 1}},
			} {
				if _, err := svc.SetItem(ctx, bad.user, bad.item); !errors.Is(err, cart.ErrInvalid) {
					t.Errorf("SetItem(%s, %+v) err = %v, want ErrInvalid", bad.user, bad.item, err)
				}
			}
		})
	})
}

func TestReplicasShareCarts(t *testing.T) {
	conformance.OnEveryEngine(t, func(t *testing.T, place conformance.Place) {
		ctx := context.Background()
		path := place("cart")
		conformance.Replicas(t, path, cart.Open, 20, func(s *cart.Store, i int) (cart.Cart, error) {
			return s.SetItem(ctx, "u07", cart.Item{ProductID: fmt.Sprintf("p%03d", i+1), Quantity: 1})
		})
		if c, err := conformance.Open(t, path, cart.Open).Cart(ctx, "u07"); err != nil || len(c.Items) != 20 {
			t.Fatalf("after 20 adds through two replicas, a third sees %d items, %v; want 20", len(c.Items), err)
		}
	})
}
