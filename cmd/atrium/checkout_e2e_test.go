//go:build linux

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

type stock struct {
	ProductID string `json:"product_id"`
	Available int
	Reserved  int
	Sold      int
}

func (p *proc) stock(t *testing.T, ids []string) map[string]stock {
	t.Helper()
	r := p.do(t, "GET", "/services/inventory/stock?ids="+strings.Join(ids, ","), "")
	var list []stock
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 {
		t.Fatalf("stock: %d %s", r.status, r.body)
	}
	out := map[string]stock{}
	for _, s := range list {
		out[s.ProductID] = s
	}
	return out
}

type order struct {
	ID            string `json:"id"`
	UserID        string `json:"user_id"`
	PaymentID     string `json:"payment_id"`
	ReservationID string `json:"reservation_id"`
	Key           string `json:"idempotency_key"`
	Lines         []struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	} `json:"lines"`
}

// TestCheckoutChaos places 200 checkouts through real processes while the
// payments service fails 30% of its calls and the inventory is slow, with
// some checkouts sent twice at once under one Idempotency-Key. Afterwards
// the books must balance: every order has exactly one successful charge,
// no successful charge lacks an order (failed checkouts were refunded),
// every failed checkout's reservation was released, and no key made two
// orders. Every stateful service runs as two replicas sharing its
// database, round-robin, so that a saga's steps land on both.
func TestCheckoutChaos(t *testing.T) {
	p := start(t, "up", "--breaker-failures", "1000", "--replicas", "inventory=2,payments=2,cart=2,orders=2")
	var all []string
	for i := 1; i <= 60; i++ {
		all = append(all, fmt.Sprintf("p%03d", i))
	}
	initial := p.stock(t, all)
	sort.Slice(all, func(i, j int) bool { return initial[all[i]].Available > initial[all[j]].Available })
	products := all[:10] // the best-stocked: 200 single units never run out
	if initial[products[9]].Available < 25 {
		t.Fatalf("seed stock too low for the test: %v", initial[products[9]])
	}

	p.setFaults(t, "payments", `{"error_rate":0.3}`)
	p.setFaults(t, "inventory", `{"latency_ms":20}`)

	const users, perUser = 20, 10
	type outcome struct {
		key    string
		status int
		order  string
	}
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	for u := 1; u <= users; u++ {
		wg.Go(func() {
			user := fmt.Sprintf("u%02d", u)
			for i := range perUser {
				if r := p.do(t, "DELETE", "/api/v1/users/"+user+"/cart", ""); r.status != 200 {
					t.Errorf("clear cart: %d %s", r.status, r.body)
					return
				}
				item := fmt.Sprintf(`{"product_id":%q,"quantity":1}`, products[(u+i)%len(products)])
				if r := p.do(t, "POST", "/api/v1/users/"+user+"/cart/items", item); r.status != 200 {
					t.Errorf("add to cart: %d %s", r.status, r.body)
					return
				}
				key := fmt.Sprintf("chaos-%s-%d", user, i)
				copies := 1
				if i%3 == 0 {
					copies = 2 // a duplicate sent at the same time
				}
				var inner sync.WaitGroup
				for range copies {
					inner.Go(func() {
						r := p.do(t, "POST", "/api/v1/checkout", fmt.Sprintf(`{"user_id":%q}`, user), "Idempotency-Key", key)
						var body struct{ Order struct{ ID string } }
						json.Unmarshal(r.body, &body)
						if r.status >= 500 && r.header.Get("Content-Type") != "application/problem+json" {
							t.Errorf("checkout failure is not a problem: %d %s", r.status, r.body)
						}
						mu.Lock()
						outcomes = append(outcomes, outcome{key, r.status, body.Order.ID})
						mu.Unlock()
					})
				}
				inner.Wait()
			}
		})
	}
	wg.Wait()
	p.setFaults(t, "payments", "")
	p.setFaults(t, "inventory", "")

	// What the clients saw: a key answers the same everywhere.
	byKey := map[string]outcome{}
	placed := 0
	for _, o := range outcomes {
		if prev, ok := byKey[o.key]; ok && (prev.status != o.status || prev.order != o.order) {
			t.Errorf("key %s answered %d/%s and %d/%s", o.key, prev.status, prev.order, o.status, o.order)
		}
		if _, ok := byKey[o.key]; !ok && o.status == http.StatusCreated {
			placed++
		}
		byKey[o.key] = o
	}
	if placed == 0 || placed == users*perUser {
		t.Fatalf("%d of %d checkouts placed: the faults did not bite or nothing worked", placed, users*perUser)
	}

	// The orders: one per successful key.
	var orders []order
	for u := 1; u <= users; u++ {
		r := p.do(t, "GET", fmt.Sprintf("/services/orders/users/u%02d/orders?limit=50", u), "")
		var list []order
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatalf("orders: %d %s", r.status, r.body)
		}
		orders = append(orders, list...)
	}
	keys := map[string]string{}
	sold := map[string]int{}
	for _, o := range orders {
		if other, dup := keys[o.Key]; dup {
			t.Errorf("key %s made orders %s and %s", o.Key, other, o.ID)
		}
		keys[o.Key] = o.ID
		if byKey[o.Key].status != http.StatusCreated || byKey[o.Key].order != o.ID {
			t.Errorf("order %s (key %s) exists, but the client was told %d/%s", o.ID, o.Key, byKey[o.Key].status, byKey[o.Key].order)
		}
		for _, l := range o.Lines {
			sold[l.ProductID] += l.Quantity
		}
	}
	if len(orders) != placed {
		t.Errorf("%d orders for %d successful checkouts", len(orders), placed)
	}

	// The charges: exactly the orders' charges succeeded; the rest were refunded.
	paid := map[string]bool{}
	for _, o := range orders {
		paid[o.PaymentID] = true
	}
	succeeded := 0
	for n := 1; ; n++ {
		r := p.do(t, "GET", fmt.Sprintf("/services/payments/charges/ch-%d", n), "")
		if r.status == http.StatusNotFound {
			break
		}
		var ch struct{ ID, Status string }
		if err := json.Unmarshal(r.body, &ch); err != nil || r.status != 200 {
			t.Fatalf("charge %d: %d %s", n, r.status, r.body)
		}
		switch {
		case ch.Status == "succeeded" && !paid[ch.ID]:
			t.Errorf("charge %s succeeded but no order has it: a failed checkout kept the money", ch.ID)
		case ch.Status != "succeeded" && paid[ch.ID]:
			t.Errorf("order's charge %s is %s", ch.ID, ch.Status)
		case ch.Status == "succeeded":
			succeeded++
		}
	}
	if succeeded != len(orders) {
		t.Errorf("%d successful charges for %d orders", succeeded, len(orders))
	}

	// The stock: what is sold is exactly what the orders hold, nothing is
	// left on hold, and the rest is back on sale.
	final := p.stock(t, products)
	for _, id := range products {
		in, out := initial[id], final[id]
		if out.Sold-in.Sold != sold[id] || out.Reserved != in.Reserved || out.Available+out.Reserved+out.Sold != in.Available+in.Reserved+in.Sold {
			t.Errorf("%s: was %+v, now %+v, sold %d", id, in, out, sold[id])
		}
	}
	t.Logf("%d checkouts (%d keys), %d placed, %d failed and compensated", len(outcomes), len(byKey), placed, len(byKey)-placed)
}
