package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/gateway/limit"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/fault"
)

// bare sends a request with only the given headers: no X-Requested-With
// unless named, from remote address addr.
func bare(h http.Handler, method, path, body, addr string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestCSRF(t *testing.T) {
	h := monolith(t)
	cookie := login(t, h)
	const creds = `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
	}{
		{"a checkout with the cookie only", "POST", "/api/v1/me/checkout", "", []string{"Cookie", cookie}, 403},
		{"a cart change with the cookie only", "DELETE", "/api/v1/me/cart", "", []string{"Cookie", cookie}, 403},
		{"logging out with the cookie only", "DELETE", "/api/v1/sessions", "", []string{"Cookie", cookie}, 403},
		{"a login without the header", "POST", "/api/v1/sessions", creds, nil, 403},
		{"an anonymous write is not logged in (401, not 403)", "POST", "/api/v1/me/checkout", "", nil, 401},
		{"a read with the cookie only", "GET", "/api/v1/me/cart", "", []string{"Cookie", cookie}, 200},
		{"a cart change with the header", "DELETE", "/api/v1/me/cart", "", []string{"Cookie", cookie, gateway.RequestedWith, "fetch"}, 200},
		{"the admin token needs no header", "DELETE", "/api/v1/users/u02/cart", "", []string{"Authorization", "Bearer " + token}, 200},
	} {
		w := bare(h, tc.method, tc.path, tc.body, "192.0.2.1:1234", tc.header...)
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
		} else if tc.status == 403 {
			if p := wantProblem(t, w, 403); p.Code != "csrf" {
				t.Errorf("%s: code %q, want csrf", tc.name, p.Code)
			}
		}
	}
}

func TestRateLimitPerClient(t *testing.T) {
	h := monolithWith(t, true, composite.Config{}, func(c *gateway.Config, _ *services.Local) {
		c.Limits.PerClient = limit.Limit{Count: 1, Per: time.Hour, Burst: 3}
	})
	path := "/services/catalog/products/p001"
	for i := range 3 {
		if w := bare(h, "GET", path, "", "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("request %d of a burst of 3: %d", i+1, w.Code)
		}
	}
	w := bare(h, "GET", path, "", "192.0.2.1:1001")
	p := wantProblem(t, w, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); p.Code != "rate_limited" || ra < 1000 || ra > 3600 {
		t.Errorf("the 4th request: code %q, Retry-After %q; want rate_limited and about an hour", p.Code, w.Header().Get("Retry-After"))
	}
	if w := bare(h, "GET", path, "", "192.0.2.2:1000"); w.Code != 200 {
		t.Errorf("another client was limited too: %d", w.Code)
	}
	if w := bare(h, "GET", "/healthz", "", "192.0.2.1:1000"); w.Code != 200 {
		t.Errorf("health checks are limited: %d", w.Code)
	}
	// Behind a trusted proxy (loopback), the client is the one it names.
	if w := bare(h, "GET", path, "", "127.0.0.1:5000", "X-Forwarded-For", "192.0.2.3"); w.Code != 200 {
		t.Errorf("a new client behind the proxy: %d", w.Code)
	}
	if w := bare(h, "GET", path, "", "127.0.0.1:5000", "X-Forwarded-For", "192.0.2.1"); w.Code != 429 {
		t.Errorf("the limited client behind the proxy: %d, want 429", w.Code)
	}
	// From anywhere else, X-Forwarded-For is not believed.
	if w := bare(h, "GET", path, "", "192.0.2.1:1002", "X-Forwarded-For", "198.51.100.7"); w.Code != 429 {
		t.Errorf("a limited client forging X-Forwarded-For: %d, want 429", w.Code)
	}
}

func TestLoginAttemptsAreLimitedPerAccountAndAddress(t *testing.T) {
	h := monolithWith(t, true, composite.Config{}, func(c *gateway.Config, _ *services.Local) {
		c.Limits.LoginPerAccount = limit.Limit{Count: 2, Per: time.Hour, Burst: 2}
		c.Limits.LoginPerAddress = limit.Limit{Count: 4, Per: time.Hour, Burst: 4}
	})
	try := func(addr, email string) int {
		body := `{"email":"` + email + `","password":"wrong"}`
		return bare(h, "POST", "/api/v1/sessions", body, addr, gateway.RequestedWith, "fetch").Code
	}
	got := []int{try("192.0.2.1:1", "ada.lovelace@example.com"), try("192.0.2.2:1", "ADA.lovelace@example.com"),
		try("192.0.2.3:1", "ada.lovelace@example.com")}
	if got[0] != 401 || got[1] != 401 || got[2] != 429 {
		t.Errorf("three guesses at one account from three addresses: %v, want 401 401 429", got)
	}
	got = []int{try("192.0.2.9:1", "a@example.com"), try("192.0.2.9:1", "b@example.com"),
		try("192.0.2.9:1", "c@example.com"), try("192.0.2.9:1", "d@example.com"), try("192.0.2.9:1", "e@example.com")}
	if got[3] != 401 || got[4] != 429 {
		t.Errorf("five accounts from one address: %v, want the fifth 429", got)
	}
}

func TestShedsRequestsPastTheCap(t *testing.T) {
	var catalog *fault.Injector
	h := monolithWith(t, true, composite.Config{}, func(c *gateway.Config, l *services.Local) {
		c.Limits.MaxInFlight = 2
		catalog = l.Faults[services.Catalog]
		if err := catalog.Set(fault.Faults{LatencyMS: 60000}); err != nil { // two requests that stay
			t.Fatal(err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range 2 {
		wg.Go(func() {
			req := httptest.NewRequestWithContext(ctx, "GET", "/services/catalog/products/p001", nil)
			req.RemoteAddr = "192.0.2." + strconv.Itoa(i+1) + ":1"
			h.ServeHTTP(httptest.NewRecorder(), req)
		})
	}
	waitFor(t, "two requests in the catalog", func() bool { return catalog.Calls() == 2 })
	w := bare(h, "GET", "/services/reviews/products/p002/summary", "", "192.0.2.9:1")
	if p := wantProblem(t, w, 503); p.Code != "overloaded" || w.Header().Get("Retry-After") != "1" {
		t.Errorf("a third request past a cap of 2: %+v, Retry-After %q; want overloaded", p, w.Header().Get("Retry-After"))
	}
	if w := bare(h, "GET", "/healthz", "", "192.0.2.9:1"); w.Code != 200 {
		t.Errorf("health checks are shed: %d", w.Code)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
