//go:build linux

package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, id, data string }

// follow reads the events of path until the server ends the stream.
func (p *proc) follow(t *testing.T, path string, header ...string) (int, string, []sseEvent) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ": ")
		switch name {
		case "event":
			ev.name = value
		case "id":
			ev.id = value
		case "data":
			ev.data = value
		case "":
			if ev.name != "" {
				events = append(events, ev)
			}
			ev = sseEvent{}
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), events
}

// orderView is what GET /api/v1/orders/{id} answers.
type orderView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Final  bool   `json:"final"`
	Steps  []struct {
		Step string `json:"step"`
	} `json:"steps"`
}

func (o orderView) steps() []string {
	var out []string
	for _, s := range o.Steps {
		out = append(out, s.Step)
	}
	return out
}

var admin = []string{"Authorization", "Bearer " + adminToken}

// TestTheChoreographedCheckoutEndToEnd, in both modes: a checkout with
// "mode":"events" answers 202 with a pending order and where to follow it;
// its event stream shows each step the services took by their
// subscriptions, and ends with the order completed; the same key gives the
// same order again; nobody else may follow it.
func TestTheChoreographedCheckoutEndToEnd(t *testing.T) {
	for _, run := range []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"monolith", func(*testing.T) []string { return []string{"monolith"} }},
		{"up", func(*testing.T) []string { return []string{"up"} }},
		// Debian's nats-server (before 2.10) filters a consumer by one
		// subject only: the services consume a subject per consumer.
		{"up, a NATS server of its own", func(t *testing.T) []string {
			return []string{"up", "--nats", testkit.NATS(t, "atrium", "chore"), "--nats-password", "chore"}
		}},
	} {
		t.Run(run.name, func(t *testing.T) {
			p := start(t, run.args(t)...)
			before := p.stock(t, []string{"p002"})["p002"]
			if r := p.do(t, "POST", "/api/v1/users/u05/cart/items", `{"product_id":"p002","quantity":2}`); r.status != 200 {
				t.Fatalf("add to cart: %d %s", r.status, r.body)
			}
			place := func() response {
				return p.do(t, "POST", "/api/v1/checkout", `{"user_id":"u05","mode":"events"}`, "Idempotency-Key", "chore-1")
			}
			r := place()
			var placed struct {
				Order orderView `json:"order"`
			}
			if r.status != 202 || json.Unmarshal(r.body, &placed) != nil || placed.Order.Status != "pending" ||
				r.header.Get("Location") != "/api/v1/orders/"+placed.Order.ID {
				t.Fatalf("placing: %d %s %s; want 202, a pending order and its Location", r.status, r.header.Get("Location"), r.body)
			}
			status, ctype, events := p.follow(t, r.header.Get("Location")+"/events", admin...)
			var names, steps []string
			for _, ev := range events {
				names = append(names, ev.name)
				if ev.name == "step" {
					var s struct{ Step string }
					json.Unmarshal([]byte(ev.data), &s)
					steps = append(steps, s.Step)
				}
			}
			if status != 200 || ctype != "text/event-stream" || !slices.Equal(steps, []string{"placed", "stock_committed", "paid", "cart_cleared"}) ||
				names[len(names)-1] != "done" || !strings.Contains(events[len(events)-1].data, `"status":"completed"`) {
				t.Fatalf("the stream: %d %s %+v; want the four steps, then done with the order completed", status, ctype, events)
			}
			_, _, again := p.follow(t, r.header.Get("Location")+"/events", append(admin, "Last-Event-ID", "3")...)
			if len(again) != 2 || again[0].id != "4" || again[1].name != "done" {
				t.Errorf("reconnecting after step 3: %+v; want step 4, then done", again)
			}
			if after := p.stock(t, []string{"p002"})["p002"]; after.Sold != before.Sold+2 {
				t.Errorf("p002 sold %d -> %d, want 2 more", before.Sold, after.Sold)
			}
			if r := p.do(t, "GET", "/api/v1/users/u05/cart", ""); !strings.Contains(string(r.body), `"items":[]`) {
				t.Errorf("the cart after the order: %s", r.body)
			}
			if r := place(); r.status != 202 || r.header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(r.body), placed.Order.ID) {
				t.Errorf("the same key again: %d %s %s; want 202, replayed, the same order", r.status, r.header.Get("Idempotent-Replayed"), r.body)
			}

			path := "/api/v1/orders/" + placed.Order.ID
			cookie := p.login(t, "ada.lovelace@example.com", "atrium-u01")
			for _, c := range []struct {
				name   string
				path   string
				header []string
				want   int
			}{
				{"no credential", path, nil, 401},
				{"no credential, the stream", path + "/events", nil, 401},
				{"another user's session", path, []string{"Cookie", cookie}, 404},
				{"another user's session, the stream", path + "/events", []string{"Cookie", cookie}, 404},
				{"another user's session, an order that does not exist", "/api/v1/orders/o-999999", []string{"Cookie", cookie}, 404},
				{"a malformed id", "/api/v1/orders/x", admin, 400},
			} {
				if r := p.do(t, "GET", c.path, "", c.header...); r.status != c.want || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.want)
				}
			}
			if r := p.do(t, "POST", "/api/v1/checkout", `{"user_id":"u05","mode":"events"}`, "Idempotency-Key", "order:o-000009"); r.status != 400 {
				t.Errorf("a key in atrium's own namespace: %d %s, want 400", r.status, r.body)
			}
			if r := p.do(t, "POST", "/api/v1/checkout", `{"user_id":"u05","mode":"later"}`); r.status != 400 {
				t.Errorf("an unknown mode: %d %s, want 400", r.status, r.body)
			}
		})
	}
}

// TestChoreographedCheckoutsOutliveInventory freezes the inventory process
// while 100 event-mode checkouts are placed (placing needs no inventory),
// and kills it after 5 s; the process its supervisor starts takes the
// events its predecessor never handled. Every order completes, its stock
// committed once and its charge made once: the books balance as in the
// orchestrated chaos tests.
func TestChoreographedCheckoutsOutliveInventory(t *testing.T) {
	p := start(t, "up")
	products := []string{"p001", "p002", "p005", "p007", "p009"}
	initial := p.stock(t, products)
	for u := 1; u <= 20; u++ { // carts first: adding to a cart checks the stock with inventory
		item := fmt.Sprintf(`{"product_id":%q,"quantity":1}`, products[u%len(products)])
		if r := p.do(t, "POST", fmt.Sprintf("/api/v1/users/u%02d/cart/items", u), item); r.status != 200 {
			t.Fatalf("add to cart: %d %s", r.status, r.body)
		}
	}
	insts := p.instances(t, "inventory")
	pid, _ := strconv.Atoi(insts[0].Meta["pid"])
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		answers = map[string]keyAnswer{}
	)
	for u := 1; u <= 20; u++ {
		wg.Go(func() {
			for i := range 5 { // five clicks, five keys: five orders of the same cart
				key := fmt.Sprintf("chaos-u%02d-%d", u, i)
				body := fmt.Sprintf(`{"user_id":"u%02d","mode":"events"}`, u)
				r := p.do(t, "POST", "/api/v1/checkout", body, "Idempotency-Key", key)
				mu.Lock()
				answers[key] = clientAnswer(r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for key, a := range answers {
		if a.status != 202 {
			t.Fatalf("key %s: %d %s; want every order placed while inventory is frozen", key, a.status, a.body)
		}
	}
	t.Logf("100 orders placed in %v with inventory frozen", time.Since(frozen).Round(time.Millisecond))
	time.Sleep(time.Until(frozen.Add(5 * time.Second))) // the outage the test is about, not a wait for an event
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for key, a := range answers {
		for {
			var o orderView
			r := p.do(t, "GET", "/api/v1/orders/"+a.order, "", admin...)
			if r.status == 200 && json.Unmarshal(r.body, &o) == nil && o.Final {
				if o.Status != "completed" || !slices.Equal(o.steps(), []string{"placed", "stock_committed", "paid", "cart_cleared"}) {
					t.Errorf("order %s (key %s): %s after %v", o.ID, key, o.Status, o.steps())
				}
				break
			}
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("order %s (key %s) not final a minute after inventory came back: %d %s", a.order, key, r.status, r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("every order completed %v after the kill", time.Since(killed).Round(time.Millisecond))
	p.checkBooks(t, products, initial, answers)
}
