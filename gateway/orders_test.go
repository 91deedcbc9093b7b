package gateway_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/gateway"
)

// TestOrderStreamsAreCapped: a choreographed order with no broker to carry
// it out stays pending, so its streams stay open: a user may hold
// MaxStreamsPerUser of them, and gets a 429 past that until one closes.
func TestOrderStreamsAreCapped(t *testing.T) {
	srv := httptest.NewServer(monolith(t))
	defer srv.Close()
	auth := []string{"Authorization", "Bearer " + token}
	h := srv.Config.Handler
	if w := do(t, h, "POST", "/api/v1/users/u03/cart/items", `{"product_id":"p001","quantity":1}`, auth...); w.Code != 200 {
		t.Fatalf("add to cart: %d %s", w.Code, w.Body)
	}
	w := do(t, h, "POST", "/api/v1/checkout", `{"user_id":"u03","mode":"events"}`, auth...)
	var placed struct{ Order struct{ ID string } }
	if w.Code != 202 || json.Unmarshal(w.Body.Bytes(), &placed) != nil {
		t.Fatalf("placing: %d %s", w.Code, w.Body)
	}
	open := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/orders/"+placed.Order.ID+"/events", nil)
		req.Header.Set(auth[0], auth[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var held []*http.Response
	for range gateway.MaxStreamsPerUser {
		resp := open()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", len(held)+1, resp.StatusCode)
		}
		line, _ := bufio.NewReader(resp.Body).ReadString('\n') // the stream is open: its first event came
		if !strings.HasPrefix(line, "event: step") {
			t.Fatalf("stream %d began %q", len(held)+1, line)
		}
		held = append(held, resp)
	}
	resp := open()
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("stream %d of one user: %d, want 429", gateway.MaxStreamsPerUser+1, resp.StatusCode)
	}
	held[0].Body.Close() // the server sees the client leave at its next write or wake-up
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp := open()
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream closed, and another is still refused: %d", resp.StatusCode)
		}
	}
	for _, r := range held[1:] {
		r.Body.Close()
	}
}
