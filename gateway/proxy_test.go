package gateway_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/registry"
)

// login returns the session cookie of user u01.
func login(t testing.TB, h http.Handler) string {
	t.Helper()
	w := do(t, h, "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return strings.Split(w.Header().Get("Set-Cookie"), ";")[0]
}

func TestProxyAdmitsOnlyTheDeclaredSurface(t *testing.T) {
	const (
		anon    = ""
		admin   = "admin"
		mine    = "session of u01"
		forgery = "a wrong bearer"
	)
	for mode, h := range bothModes(t) {
		t.Run(mode, func(t *testing.T) {
			cookie := login(t, h)
			for _, tc := range []struct {
				who, method, path, body string
				status                  int
			}{
				{anon, "GET", "/services/catalog/products/p001", "", 200},
				{anon, "GET", "/services/inventory/stock?ids=p001,p002", "", 200},
				{anon, "GET", "/services/reviews/products/p001/summary", "", 200},
				{anon, "GET", "/services/recommendations/products/p001/recommendations", "", 200},
				{anon, "GET", "/services/users/users/u01", "", 401},
				{anon, "GET", "/services/users/users?ids=u01,u02,u03", "", 401},
				{anon, "POST", "/services/users/authenticate", `{"email":"ada.lovelace@example.com","password":"x"}`, 403},
				{anon, "POST", "/services/payments/charges", `{"user_id":"u03","amount_cents":5000,"currency":"EUR"}`, 403},
				{anon, "POST", "/services/payments/charges/ch-1/refund", "", 403},
				{anon, "DELETE", "/services/inventory/reservations/res-1", "", 403},
				{anon, "POST", "/services/orders/orders", `{"user_id":"u02"}`, 403},
				{anon, "PUT", "/services/cart/carts/u01/items/p001", `{"quantity":2}`, 403},
				{anon, "GET", "/services/cart/carts/u01", "", 401},
				{anon, "GET", "/services/catalog/../users/users/u01", "", 404},
				{anon, "GET", "/services/catalog/products/p001/../../../users/users/u01", "", 404},
				{anon, "GET", "/services/payments/nope", "", 404},
				{mine, "GET", "/services/cart/carts/u01", "", 200},
				{mine, "GET", "/services/orders/users/u01/orders", "", 200},
				{mine, "GET", "/services/cart/carts/u02", "", 403},
				{mine, "GET", "/services/orders/users/u02/orders", "", 403},
				{mine, "GET", "/services/users/users/u01", "", 401},
				{admin, "GET", "/services/users/users/u01", "", 200},
				{admin, "GET", "/services/cart/carts/u02", "", 200},
				{admin, "POST", "/services/payments/charges", `{"user_id":"u03","amount_cents":5000,"currency":"EUR"}`, 403},
				{admin, "DELETE", "/services/inventory/reservations/res-1", "", 403},
				{forgery, "GET", "/services/users/users/u01", "", 403},
				{forgery, "GET", "/services/cart/carts/u01", "", 403},
			} {
				var header []string
				switch tc.who {
				case admin:
					header = []string{"Authorization", "Bearer " + token}
				case mine:
					header = []string{"Cookie", cookie}
				case forgery:
					header = []string{"Authorization", "Bearer " + token + "x"}
				}
				w := do(t, h, tc.method, tc.path, tc.body, header...)
				if w.Code != tc.status {
					t.Errorf("%s %s as %q: %d, want %d: %.200s", tc.method, tc.path, tc.who, w.Code, tc.status, w.Body)
					continue
				}
				if tc.status >= 400 {
					wantProblem(t, w, tc.status)
				}
			}
		})
	}
}

func TestProxiedAnswersAreTheGatewaysOwn(t *testing.T) {
	for mode, h := range bothModes(t) {
		t.Run(mode, func(t *testing.T) {
			w := do(t, h, "GET", "/services/catalog/products/p999", "", "X-Request-Id", "client-chosen-1")
			p := wantProblem(t, w, http.StatusNotFound)
			if p.Instance != "/services/catalog/products/p999" || p.RequestID != "client-chosen-1" || p.Code != "product_not_found" {
				t.Errorf("the service's problem was passed on as %+v: want the client's path and request id", p)
			}
			for _, k := range []string{"X-Request-Id", "X-Trace-Id"} {
				if v := w.Header().Values(k); len(v) != 1 {
					t.Errorf("%s: %q, want one value", k, v)
				}
			}
			w = do(t, h, "GET", "/services/catalog/products/p001", "")
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); w.Code != 200 || err != nil || body["id"] != "p001" {
				t.Errorf("a public read: %d %s", w.Code, w.Body)
			}
		})
	}
}

func TestAFailedUpstreamIsNotDescribed(t *testing.T) {
	reg := registry.New(time.Minute)
	dead := httptest.NewServer(http.NotFoundHandler())
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(dead.URL, "http://"))
	dead.Close() // its port now refuses connections
	p, _ := strconv.Atoi(port)
	if err := reg.Register(registry.Instance{ID: "c-1", Service: "catalog", Address: host, Port: p}); err != nil {
		t.Fatal(err)
	}
	w := do(t, microservices(t, reg), "GET", "/services/catalog/products/p001", "")
	pr := wantProblem(t, w, http.StatusBadGateway)
	if strings.Contains(w.Body.String(), "dial") || strings.Contains(w.Body.String(), port) || pr.Code != "upstream_failed" {
		t.Errorf("a refused connection is told to the client: %s", w.Body)
	}
}
