package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/services"
)

const frontend = "http://127.0.0.1:3000"

func withCORS(origins ...string) func(*gateway.Config, *services.Local) {
	return func(c *gateway.Config, _ *services.Local) { c.CORSOrigins = origins }
}

// TestCORSPreflightsEveryRoute: a preflight from a configured origin is a
// 204 that allows it with credentials, on a route that needs a session, an
// unknown route and a proxied one alike; from any other origin it allows
// nothing; an answer to the origin exposes the headers a frontend reads.
func TestCORSPreflightsEveryRoute(t *testing.T) {
	h := monolithWith(t, true, roomy, withCORS(frontend))
	for _, path := range []string{"/api/v1/me/cart/items", "/api/v1/products/p001/page", "/api/v1/nowhere", "/services/catalog/products"} {
		w := do(t, h, "OPTIONS", path, "", "Origin", frontend, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type,x-requested-with")
		hd := w.Header()
		if w.Code != 204 || hd.Get("Access-Control-Allow-Origin") != frontend || hd.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(hd.Get("Access-Control-Allow-Headers"), gateway.RequestedWith) {
			t.Errorf("preflight of %s: %d %v", path, w.Code, hd)
		}
		w = do(t, h, "OPTIONS", path, "", "Origin", "http://evil.example", "Access-Control-Request-Method", "POST")
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s from another origin allowed: %v", path, w.Header())
		}
	}
	w := do(t, h, "GET", "/api/v1/products?limit=1", "", "Origin", frontend)
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != frontend ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Server-Timing") {
		t.Errorf("a read from the frontend: %d %v", w.Code, w.Header())
	}
	if w := do(t, h, "GET", "/api/v1/products?limit=1", ""); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a read with no Origin got CORS headers: %v", w.Header())
	}
	if w := do(t, monolith(t), "OPTIONS", "/api/v1/me/cart/items", "", "Origin", frontend, "Access-Control-Request-Method", "POST"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("with no origin configured, a preflight allowed one: %v", w.Header())
	}
}

// page is a frontend: a page that reads a product list, logs in and adds
// to the cart through the API at api, with the session cookie, and writes
// how each went into the page.
func page(api string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>shop</title><pre id="out">running</pre><script>
const api = %q, out = [];
const post = (path, body) => fetch(api + path, {method: "POST", credentials: "include",
  headers: {"Content-Type": "application/json", "X-Requested-With": "fetch"}, body: JSON.stringify(body)});
async function step(name, f) {
  try { const r = await f(); out.push(name + ":" + r.status + ":" + (r.headers.get("X-Request-Id") ? "id" : "noid")); }
  catch (e) { out.push(name + ":blocked"); }
}
(async () => {
  await step("get", () => fetch(api + "/api/v1/products?limit=1"));
  await step("login", () => post("/api/v1/sessions", {email: "ada.lovelace@example.com", password: "atrium-u01"}));
  await step("cart", () => post("/api/v1/me/cart/items", {product_id: "p001", quantity: 1}));
  document.getElementById("out").textContent = out.join(" ");
})();
</script>`, api)
	})
}

// TestAFrontendOnAnotherOrigin runs a page on another origin in headless
// Chromium: from the configured origin, a read, the login and a cart
// change (with the session cookie) succeed and their headers can be read;
// from an origin not configured, the browser refuses every answer.
func TestAFrontendOnAnotherOrigin(t *testing.T) {
	chromium := testkit.Chromium(t)
	allowed, other := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	allowedURL := "http://" + allowed.Listener.Addr().String()
	api := httptest.NewServer(monolithWith(t, true, roomy, withCORS(allowedURL)))
	defer api.Close()
	for _, s := range []*httptest.Server{allowed, other} {
		s.Config.Handler = page(api.URL)
		s.Start()
		defer s.Close()
	}
	run := func(url string) string {
		dir := testkit.ChromiumDir(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		dom, err := exec.CommandContext(ctx, chromium, append(testkit.ChromiumArgs(dir), "--virtual-time-budget=10000", "--dump-dom", url)...).Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		_, rest, _ := strings.Cut(string(dom), `<pre id="out">`)
		got, _, _ := strings.Cut(rest, "</pre>")
		return got
	}
	if got, want := run(allowed.URL), "get:200:id login:201:id cart:200:id"; got != want {
		t.Errorf("from the configured origin: %q, want %q", got, want)
	}
	if got, want := run(other.URL), "get:blocked login:blocked cart:blocked"; got != want {
		t.Errorf("from another origin: %q, want %q", got, want)
	}
}
