package balance_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/registry"
)

func request(header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://svc/", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// busy returns a Load in which instance i of pool has n[i] requests in
// flight, by running them through a Transport to servers that hold them.
func busy(t *testing.T, n []int) (*balance.Load, []registry.Instance) {
	t.Helper()
	hold := make(chan struct{})
	var pool []registry.Instance
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-hold
		}))
		t.Cleanup(srv.Close)
		pool = append(pool, instanceOf(t, srv, fmt.Sprintf("svc-%d", i)))
	}
	t.Cleanup(func() { close(hold) }) // before the servers close: they wait for their handlers
	load := new(balance.Load)
	for i, count := range n {
		only := staticResolver{"svc": pool[i : i+1]}
		tr := &balance.Transport{Resolver: only, Load: load}
		for range count {
			resp, err := tr.RoundTrip(request())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
		}
	}
	return load, pool
}

func TestLeastConnectionsPicksTheIdlest(t *testing.T) {
	load, pool := busy(t, []int{3, 0, 2})
	lc := &balance.LeastConnections{Load: load}
	for range 6 {
		if got := lc.Select(pool, request()); got.ID != "svc-1" {
			t.Fatalf("picked %s (%d in flight), want svc-1 (0)", got.ID, load.InFlight(got.ID))
		}
	}
	if load.InFlight("svc-0") != 3 {
		t.Errorf("svc-0 has %d in flight, want 3", load.InFlight("svc-0"))
	}
}

func TestPowerOfTwoAvoidsTheBusiest(t *testing.T) {
	load, pool := busy(t, []int{5, 0, 0})
	p := balance.PowerOfTwo{Load: load}
	for range 300 {
		if got := p.Select(pool, request()); got.ID == "svc-0" {
			t.Fatal("picked the busiest instance, which loses every comparison")
		}
	}
}

func TestStickyFollowsTheCookieAndFallsBack(t *testing.T) {
	pool := testPool(3)
	s := balance.Sticky{Cookie: "atrium_svc", Fallback: new(balance.RoundRobin)}
	r := request("Cookie", "atrium_svc=svc-2")
	for range 5 {
		if got := s.Select(pool, r); got.ID != "svc-2" {
			t.Fatalf("sticky request went to %s", got.ID)
		}
	}
	gone := request("Cookie", "atrium_svc=svc-9")
	got := s.Select(pool, gone)
	resp := &http.Response{Header: http.Header{}}
	s.Stick(gone, resp, got)
	if c := resp.Header.Get("Set-Cookie"); c == "" || !strings.Contains(c, "atrium_svc="+got.ID) || !strings.Contains(c, "HttpOnly") {
		t.Errorf("a client of a dead instance got cookie %q for %s", c, got.ID)
	}
	resp = &http.Response{Header: http.Header{}}
	s.Stick(r, resp, pool[2])
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("a client already on its instance got a new cookie")
	}
}

func TestHashIsStableAndMovesOnlyTheLeaversKeys(t *testing.T) {
	pool := testPool(5)
	h := balance.Hash{Header: "X-User", Fallback: new(balance.RoundRobin)}
	owner := map[string]string{}
	for i := range 200 {
		key := fmt.Sprintf("u%03d", i)
		owner[key] = h.Select(pool, request("X-User", key)).ID
		if again := h.Select(pool, request("X-User", key)).ID; again != owner[key] {
			t.Fatalf("key %s went to %s then %s", key, owner[key], again)
		}
	}
	spread := map[string]int{}
	for _, id := range owner {
		spread[id]++
	}
	if len(spread) != 5 {
		t.Errorf("200 keys landed on %d of 5 instances: %v", len(spread), spread)
	}
	smaller := pool[1:] // svc-0 leaves
	for key, was := range owner {
		now := h.Select(smaller, request("X-User", key)).ID
		if was != "svc-0" && now != was {
			t.Errorf("key %s moved from %s to %s though its instance stayed", key, was, now)
		}
	}
}

func TestHealthEjectsAndReadmits(t *testing.T) {
	h := &balance.Health{EjectAfter: 2, EjectFor: 50 * time.Millisecond}
	pool := testPool(3)
	h.Report("svc-1", false)
	if got := h.Available(pool); len(got) != 3 {
		t.Fatalf("one failure ejected: %v", got)
	}
	h.Report("svc-1", false)
	got := h.Available(pool)
	if len(got) != 2 || got[0].ID != "svc-0" || got[1].ID != "svc-2" {
		t.Fatalf("after 2 failures: %v, want svc-1 ejected", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.Available(pool)) != 3 {
		if time.Now().After(deadline) {
			t.Fatal("svc-1 never came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, inst := range pool {
		h.Report(inst.ID, false)
		h.Report(inst.ID, false)
	}
	if got := h.Available(pool); len(got) != 3 {
		t.Errorf("with every instance ejected, the pool should stay whole: %v", got)
	}
}

func TestActiveCheckMarksAHungInstanceDown(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer ready.Close()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hung.Close()
	pool := []registry.Instance{instanceOf(t, ready, "svc-ok"), instanceOf(t, hung, "svc-hung")}
	h := new(balance.Health)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Check(ctx, func() []registry.Instance { return pool }, 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := h.Available(pool); len(got) == 1 && got[0].ID == "svc-ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hung instance was never marked down")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkPolicies(b *testing.B) {
	pool := testPool(5)
	load := new(balance.Load)
	r := request("X-User", "u042", "Cookie", "atrium_svc=svc-3")
	for _, name := range []string{"round-robin", "least-conn", "p2c", "sticky", "hash:X-User"} {
		sel, err := balance.Policy(name, "svc", load)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sel.Select(pool, r)
			}
		})
	}
}
