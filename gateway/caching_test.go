package gateway_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/atrium-bff/atrium/orchestration/composite"
)

// TestCompositesAreValidated: a public read has a weak ETag and may be
// kept a few seconds by any cache; the same ETag in If-None-Match is a 304
// with no body, until the content changes (not its _meta, which differs
// every time); a user's read is private and checked again; a write is
// not kept.
func TestCompositesAreValidated(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		h := m.h
		auth := []string{"Authorization", "Bearer " + token}
		w := do(t, h, "GET", "/api/v1/products/p004/page", "")
		tag := w.Header().Get("ETag")
		if w.Code != 200 || !strings.HasPrefix(tag, `W/"`) || w.Header().Get("Cache-Control") != "public, max-age=5, stale-while-revalidate=30" {
			t.Fatalf("a product page: %d ETag %q Cache-Control %q", w.Code, tag, w.Header().Get("Cache-Control"))
		}
		if w := do(t, h, "GET", "/api/v1/products/p004/page", "", "If-None-Match", tag); w.Code != 304 || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
			t.Errorf("the same page with its ETag: %d %q, want 304 and no body", w.Code, w.Body.String())
		}
		if w := do(t, h, "GET", "/api/v1/products/p004/page", "", "If-None-Match", `W/"0000000000000000", `+tag); w.Code != 304 {
			t.Errorf("If-None-Match with a list that has the ETag: %d, want 304", w.Code)
		}
		if w := do(t, h, "PUT", "/admin/catalog/products/p004/price", `{"price_cents":4321}`, auth...); w.Code != 200 {
			t.Fatalf("set price: %d %s", w.Code, w.Body)
		}
		if w := do(t, h, "GET", "/api/v1/products/p004/page", "", "If-None-Match", tag); w.Code != 200 || w.Header().Get("ETag") == tag {
			t.Errorf("after a price change, the old ETag: %d %q, want 200 and a new ETag", w.Code, w.Header().Get("ETag"))
		}
		if w := do(t, h, "GET", "/api/v1/users/u02/dashboard", "", auth...); w.Header().Get("Cache-Control") != "private, no-cache" || w.Header().Get("ETag") == "" {
			t.Errorf("a user's dashboard: Cache-Control %q, ETag %q", w.Header().Get("Cache-Control"), w.Header().Get("ETag"))
		}
		if w := do(t, h, "POST", "/api/v1/users/u02/cart/items", `{"product_id":"p001","quantity":1}`, auth...); w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("ETag") != "" {
			t.Errorf("a cart change: Cache-Control %q, ETag %q", w.Header().Get("Cache-Control"), w.Header().Get("ETag"))
		}
	})
}

// TestMetaIsEveryCompositesLastMember: the ETag hashes an answer up to its
// _meta, so _meta must come last, or what follows it would not count.
func TestMetaIsEveryCompositesLastMember(t *testing.T) {
	for _, v := range []composite.Result{composite.ProductPage{}, composite.Listing{NextCursor: "x"}, composite.SearchResults{},
		composite.Dashboard{}, composite.CartResult{CartView: &composite.CartView{}}, composite.Checkout{}, composite.OrderView{}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndex(string(b), `,"_meta":`)
		var rest map[string]json.RawMessage
		if i < 0 || json.Unmarshal([]byte("{"+string(b[i+1:])), &rest) != nil || len(rest) != 1 {
			t.Errorf("%s: _meta is not its last member: %s", reflect.TypeOf(v), b)
		}
	}
}

// TestTheListingLinksItsNextPage: a page with more after it says where the
// next one is (Link rel="next"), the same query with the next cursor; the
// last page has no Link.
func TestTheListingLinksItsNextPage(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		h := m.h
		path, seen := "/api/v1/products?category=books&limit=4", map[string]bool{}
		for pages := 0; ; pages++ {
			w := do(t, h, "GET", path, "")
			var page struct {
				Items []struct{ ID string }
			}
			if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &page) != nil {
				t.Fatalf("%s: %d %s", path, w.Code, w.Body)
			}
			for _, it := range page.Items {
				if seen[it.ID] {
					t.Fatalf("%s: %s again", path, it.ID)
				}
				seen[it.ID] = true
			}
			link := w.Header().Get("Link")
			if link == "" {
				if len(seen) != 10 || pages != 2 {
					t.Errorf("%d books over %d pages, want 10 over 3", len(seen), pages+1)
				}
				return
			}
			next, ok := strings.CutSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			if !ok || !strings.Contains(next, "category=books") || !strings.Contains(next, "limit=4") {
				t.Fatalf("Link %q", link)
			}
			path = next
		}
	})
}
