package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMethodsAHTTPClientExpects: a route asked with a method it does not
// take is a 405 naming the ones it does (Allow), not a 404; every GET
// route, the proxy's too, answers HEAD with its headers and no body; an
// unknown route is a 404; each problem has a code.
func TestMethodsAHTTPClientExpects(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		srv := httptest.NewServer(m.h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
		ask := func(method, path string) (*http.Response, string) {
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		code := func(body string) string {
			var p struct{ Code string }
			json.Unmarshal([]byte(body), &p)
			return p.Code
		}
		for _, c := range []struct{ method, path, allow string }{
			{"PUT", "/api/v1/products", "GET, HEAD"},
			{"DELETE", "/api/v1/products/p001/page", "GET, HEAD"},
			{"GET", "/api/v1/sessions", "DELETE, POST"},
			{"PUT", "/api/v1/users/u01/cart/items/p001", "DELETE, PATCH"},
		} {
			resp, body := ask(c.method, c.path)
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow || code(body) != "method_not_allowed" ||
				resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: %d Allow %q %s; want 405, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body, c.allow)
			}
		}
		// On one kept-alive connection: a HEAD answer with a body would be
		// read as the next answer's status line.
		for range 2 {
			for _, path := range []string{"/api/v1/products/p001/page", "/api/v1/products?limit=2", "/services/catalog/products/p001", "/openapi.json", "/healthz"} {
				resp, body := ask("HEAD", path)
				if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") == "" {
					t.Errorf("HEAD %s: %d %q %q; want 200, the GET's headers, no body", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				if resp, _ := ask("GET", "/healthz"); resp.StatusCode != 200 {
					t.Errorf("GET after HEAD %s: %d", path, resp.StatusCode)
				}
			}
		}
		// Byte for byte on one connection: a HEAD answer is its headers alone,
		// and the next answer follows them at once.
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "HEAD /api/v1/products/p001/page HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		raw, _ := io.ReadAll(conn)
		_, rest, _ := strings.Cut(string(raw), "\r\n\r\n")
		if !strings.HasPrefix(rest, "HTTP/1.1 200") {
			t.Errorf("after a HEAD answer's headers: %.120q, want the next answer", rest)
		}
		if resp, body := ask("GET", "/api/v1/nowhere"); resp.StatusCode != 404 || code(body) != "no_route" {
			t.Errorf("an unknown route: %d %s", resp.StatusCode, body)
		}
		if resp, body := ask("POST", "/services/catalog/products/p001"); resp.StatusCode/100 != 4 || code(body) == "" || !strings.Contains(body, "products/p001") {
			t.Errorf("a service's write through the proxy: %d %s", resp.StatusCode, body)
		}
	})
}

// TestProblemsSayWhatTheUserDid: a cart change beyond the stock names the
// product, what is in stock and what the cart would hold, not which step
// of the engine failed.
func TestProblemsSayWhatTheUserDid(t *testing.T) {
	forBothModes(t, func(t *testing.T, m mode) {
		h := m.h
		auth := []string{"Authorization", "Bearer " + token}
		if w := do(t, h, "POST", "/api/v1/users/u01/cart/items", `{"product_id":"p003","quantity":2}`, auth...); w.Code != 200 {
			t.Fatalf("add: %d %s", w.Code, w.Body)
		}
		w := do(t, h, "POST", "/api/v1/users/u01/cart/items", `{"product_id":"p003","quantity":99}`, auth...)
		p := wantProblem(t, w, 409)
		for _, want := range []string{`"A Field Guide to Rivers" (p003) in stock`, "would hold 101 (it holds 2)"} {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("detail %q lacks %q", p.Detail, want)
			}
		}
		for _, w := range []*httptest.ResponseRecorder{w, do(t, h, "POST", "/api/v1/users/u01/cart/items", `{"product_id":"p999","quantity":1}`, auth...)} {
			if p := wantProblem(t, w, w.Code); strings.Contains(p.Detail, "required source") || p.Code == "" {
				t.Errorf("%d %q: the engine's wording, or no code", p.Status, p.Detail)
			}
		}
	})
}
