package gateway_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
)

// keys returns the top-level keys of a JSON object, sorted.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestSparseFieldsetsCallOnlyWhatTheyNeed: ?fields= answers only the
// parts named (and _meta), and calls only the services those parts need:
// counted as requests arriving at the services in microservices, as the
// sources in _meta in both modes.
func TestSparseFieldsetsCallOnlyWhatTheyNeed(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		auth := []string{"Authorization", "Bearer " + token}
		if w := do(t, m.h, "POST", "/api/v1/users/u03/cart/items", `{"product_id":"p010","quantity":1}`, auth...); w.Code != 200 {
			t.Fatalf("add to u03's cart: %d %s", w.Code, w.Body)
		}
		for _, tc := range []struct {
			path    string
			keys    []string // of the answer, or of each of its items
			item    bool
			sources []string
			called  []string // the services it may ask (a cached read asks none)
		}{
			{"/api/v1/products/p007/page?fields=product", []string{"_meta", "product"}, false,
				[]string{"product"}, []string{"catalog"}},
			{"/api/v1/products/p008/page?fields=stock,recommendations", []string{"_meta", "recommendations", "stock"}, false,
				[]string{"product", "recommendations", "recommended_products", "recommended_stock", "stock"}, []string{"catalog", "inventory", "recommendations"}},
			{"/api/v1/products/p009/page?fields=rating,reviews", []string{"_meta", "rating", "reviews"}, false,
				[]string{"product", "rating", "reviews"}, []string{"catalog", "reviews"}},
			{"/api/v1/users/u03/dashboard?fields=cart", []string{"_meta", "cart"}, false,
				[]string{"cart", "cart_products", "user"}, []string{"users", "cart", "catalog"}},
			{"/api/v1/products?category=books&fields=stock", []string{"category", "currency", "description", "id", "name", "price_cents", "stock"}, true,
				[]string{"products", "stock"}, []string{"catalog", "inventory"}},
		} {
			before := map[string]int64{}
			if m.calls != nil {
				for _, s := range []string{"catalog", "inventory", "reviews", "recommendations", "users", "cart", "orders"} {
					before[s] = m.calls(s)
				}
			}
			w := do(t, m.h, "GET", tc.path, "", auth...)
			if w.Code != 200 {
				t.Fatalf("%s: %d %s", tc.path, w.Code, w.Body)
			}
			var answer struct {
				Items []json.RawMessage
				Meta  struct{ Sources map[string]json.RawMessage } `json:"_meta"`
			}
			json.Unmarshal(w.Body.Bytes(), &answer)
			got := keys(t, w.Body.Bytes())
			if tc.item {
				if len(answer.Items) == 0 {
					t.Fatalf("%s: no items: %s", tc.path, w.Body)
				}
				got = keys(t, answer.Items[0])
			}
			if !slices.Equal(got, tc.keys) {
				t.Errorf("%s: keys %v, want %v", tc.path, got, tc.keys)
			}
			if s := slices.Sorted(maps.Keys(answer.Meta.Sources)); !slices.Equal(s, tc.sources) {
				t.Errorf("%s: sources %v, want %v", tc.path, s, tc.sources)
			}
			someAsked := m.calls == nil
			for s, n := range before {
				asked := m.calls(s) > n
				if asked && !slices.Contains(tc.called, s) {
					t.Errorf("%s: %s was asked", tc.path, s)
				}
				someAsked = someAsked || asked
			}
			if !someAsked {
				t.Errorf("%s: no service was asked (the test reads cached answers)", tc.path)
			}
		}
		full := do(t, m.h, "GET", "/api/v1/products/p007/page", "")
		sparse := do(t, m.h, "GET", "/api/v1/products/p007/page?fields=product", "")
		if len(keys(t, full.Body.Bytes())) != 6 || full.Header().Get("ETag") == sparse.Header().Get("ETag") {
			t.Errorf("the whole page: keys %v, ETag %q (sparse %q)", keys(t, full.Body.Bytes()), full.Header().Get("ETag"), sparse.Header().Get("ETag"))
		}
		for path, want := range map[string]string{
			"/api/v1/products/p001/page?fields=price": `"fields": value is not one of the allowed values ["product","stock","rating","reviews","recommendations"]`,
			"/api/v1/products/p001/page?fields=":      `"fields": empty value is not allowed`,
			"/api/v1/products?fields=reviews":         `"fields": value is not one of the allowed values ["stock","rating"]`,
		} {
			if p := wantProblem(t, do(t, m.h, "GET", path, ""), 400); !strings.Contains(p.Detail, want) || p.Code != "invalid" {
				t.Errorf("%s: %q (%s), want %q", path, p.Detail, p.Code, want)
			}
		}
	})
}

// TestABodyThatIsNotJSONIs415: a write whose body says it is not JSON is
// refused as such, naming what it got.
func TestABodyThatIsNotJSONIs415(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/jsonp"} {
			w := do(t, m.h, "POST", "/api/v1/users/u01/cart/items", `{"product_id":"p001","quantity":1}`,
				"Authorization", "Bearer "+token, "Content-Type", ct)
			if p := wantProblem(t, w, 415); p.Code != "unsupported_media_type" || !strings.Contains(p.Detail, ct) {
				t.Errorf("%s: %+v", ct, p)
			}
		}
	})
}

// TestTheDocumentListsEachCompositesParts: the fields parameter of each
// composite offers exactly the parts the composite has, in its order.
func TestTheDocumentListsEachCompositesParts(t *testing.T) {
	for name, parts := range map[string]*composite.Parts{"PageFields": composite.PageParts, "DashboardFields": composite.DashboardParts, "ListingFields": composite.ListingParts} {
		p := spec.Doc.Components.Parameters[name]
		if p == nil {
			t.Fatalf("no parameter %s", name)
		}
		var enum []string
		for _, v := range p.Value.Schema.Value.Items.Value.Enum {
			enum = append(enum, v.(string))
		}
		if !slices.Equal(enum, parts.Names()) {
			t.Errorf("%s offers %v; the composite has %v", name, enum, parts.Names())
		}
		if _, err := parts.Parse("nope"); err == nil || !strings.Contains(err.Error(), "choose from "+strings.Join(parts.Names(), ", ")) {
			t.Errorf("%s: an unknown part: %v", name, err)
		}
		if _, err := parts.Parse(" , "); err == nil || !strings.Contains(err.Error(), "fields is empty") {
			t.Errorf("%s: no part: %v", name, err)
		}
	}
}

// TestAGatewayWithoutChildrenCannotScale: only atrium up runs its
// services; a gateway alone says so.
func TestAGatewayWithoutChildrenCannotScale(t *testing.T) {
	h := microservices(t, registry.New(time.Minute))
	auth := []string{"Authorization", "Bearer " + token}
	if p := wantProblem(t, do(t, h, "PUT", "/admin/services/catalog/replicas", `{"replicas":2}`, auth...), 409); p.Code != "not_supervised" {
		t.Errorf("a gateway alone: %+v", p)
	}
	if w := do(t, h, "PUT", "/admin/services/catalog/replicas", `{"replicas":2}`); w.Code != 401 {
		t.Errorf("without the admin token: %d", w.Code)
	}
}
