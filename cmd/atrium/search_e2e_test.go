//go:build linux

package main_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// searchPrice waits until GET /api/v1/search?q=q finds product id at price
// want (any price when want is 0) with the whole catalog indexed, and
// returns the price; it fails the test after wait.
func searchPrice(t *testing.T, p *proc, q, id string, want int64, wait time.Duration) int64 {
	t.Helper()
	var last string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r := p.do(t, "GET", "/api/v1/search?q="+q+"&limit=5", "")
		last = fmt.Sprintf("%d %s", r.status, r.body)
		var res struct {
			Items []struct {
				ID         string `json:"id"`
				PriceCents int64  `json:"price_cents"`
				Stock      *struct{ Available int }
			}
			Indexed int `json:"indexed"`
		}
		if r.status != 200 || json.Unmarshal(r.body, &res) != nil || res.Indexed != 60 {
			continue
		}
		for _, it := range res.Items {
			if it.ID == id && it.Stock != nil && (want == 0 || it.PriceCents == want) {
				return it.PriceCents
			}
		}
	}
	t.Fatalf("search %q: no %s at %d (with its stock) after %v; last: %s", q, id, want, wait, last)
	return 0
}

// TestSearchIsAReadModelOfTheCatalogsEvents: in both modes, search
// answers from an index it built from the catalog's created events alone,
// and a price change reaches it by its event. In microservices mode, an
// event published while search is frozen is taken by the search process
// its supervisor starts after it is killed: its durable consumer kept the
// event for it (a follower would not have).
func TestSearchIsAReadModelOfTheCatalogsEvents(t *testing.T) {
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode)
			old := searchPrice(t, p, "mouse", "p060", 0, 20*time.Second)
			setPrice := func(id string, cents int64) {
				r := p.do(t, "PUT", "/admin/catalog/products/"+id+"/price", fmt.Sprintf(`{"price_cents":%d}`, cents), "Authorization", "Bearer "+adminToken)
				if r.status != 200 {
					t.Fatalf("set price: %d %s", r.status, r.body)
				}
			}
			setPrice("p060", old+100)
			changed := time.Now()
			searchPrice(t, p, "robot", "p060", old+100, 10*time.Second)
			t.Logf("the new price in search after %v", time.Since(changed).Round(time.Millisecond))
			if r := p.do(t, "GET", "/api/v1/search?q=%22%29&limit=5", ""); r.status != 400 || r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("a query with no word: %d %s %s, want a 400 problem", r.status, r.header.Get("Content-Type"), r.body)
			}
			if mode != "up" {
				return
			}
			if r := p.do(t, "GET", "/services/search/search?q=mouse", ""); r.status != 200 {
				t.Errorf("the search service through the proxy, with no credential: %d %s, want 200 (a public route)", r.status, r.body)
			}
			insts := p.instances(t, "search")
			if len(insts) != 1 {
				t.Fatalf("%d search instances, want 1", len(insts))
			}
			pid, _ := strconv.Atoi(insts[0].Meta["pid"])
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			setPrice("p017", 4242) // search is frozen: it cannot take the event
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			searchPrice(t, p, "ergonomic", "p017", 4242, 20*time.Second)
			t.Logf("the price changed while search was frozen is in the new process's index %v after the kill", time.Since(killed).Round(time.Millisecond))
			// The killed instance leaves the registry when its health check
			// or its lease says so, which may be after the new one answered.
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				insts := p.instances(t, "search")
				if len(insts) == 1 && insts[0].Meta["pid"] != strconv.Itoa(pid) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("search instances 15 s after the kill: %+v; want one new process", insts)
				}
			}
		})
	}
}
