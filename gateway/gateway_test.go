package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/broker"

	"golang.org/x/net/http/httpguts"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/openapi"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/fault"
)

const token = "test-token"

var (
	quiet = slog.New(slog.DiscardHandler)
	spec  = openapi.MustLoad("")
)

// tel is test telemetry: every request traced, kept in a small ring.
func tel(t testing.TB) *telemetry.Telemetry {
	t.Helper()
	tl, err := telemetry.New(context.Background(), telemetry.Config{Service: "test", RingTraces: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Shutdown(context.Background()) })
	return tl
}

// monolith returns a gateway serving every service in-process.
func monolith(t testing.TB) *echo.Echo { return monolithWith(t, true, roomy) }

// roomy is the policies of the tests that are not about deadlines: a
// login's bcrypt under the race detector, on a machine busy with other
// tests, may take longer than the default 2 s.
var roomy = composite.Config{Deadline: 10 * time.Second, CallTimeout: 5 * time.Second}

// monolithWith is monolith with or without the document, with policies cfg
// and then what each of more changes.
func monolithWith(t testing.TB, withSpec bool, cfg composite.Config, more ...func(*gateway.Config, *services.Local)) *echo.Echo {
	t.Helper()
	sp := spec
	if !withSpec {
		sp = nil
	}
	l, err := services.Open(services.Storage{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	gc := gateway.Config{
		Logger: quiet, AdminToken: token, BodyLimit: "4K", Spec: sp, Faults: l.Faults, Telemetry: tel(t), Events: noDeadLetters{},
		Sessions:  &session.Memory{TTL: time.Hour},
		Composer:  composite.New(l.Set, withAnswer(cfg)),
		Upstreams: l.Handlers,
	}
	for _, m := range more {
		m(&gc, l)
	}
	return gateway.New(gc)
}

// microservices returns a gateway whose services are reached through reg,
// as `atrium gateway` wires it.
func microservices(t testing.TB, reg *registry.Registry) *echo.Echo {
	return microservicesWith(t, reg, roomy)
}

// microservicesWith is microservices with policies cfg and then what each
// of more changes.
func microservicesWith(t testing.TB, reg *registry.Registry, cfg composite.Config, more ...func(*gateway.Config)) *echo.Echo {
	t.Helper()
	rt := &balance.Transport{Resolver: reg}
	upstreams := map[string]http.Handler{}
	for _, name := range services.Names {
		upstreams[name] = gateway.NewProxy(name, rt, "", nil)
	}
	gc := gateway.Config{
		Logger: quiet, AdminToken: token, Registry: registry.Embedded{Registry: reg}, Spec: spec, Telemetry: tel(t), Events: noDeadLetters{},
		Sessions:  &session.Memory{TTL: time.Hour},
		Faults:    gateway.RemoteFaults{Resolver: reg, Secret: token},
		Composer:  composite.New(services.Remote(rt, "", nil), withAnswer(cfg)),
		Upstreams: upstreams,
	}
	for _, m := range more {
		m(&gc)
	}
	return gateway.New(gc)
}

// mode is a gateway in one of the two architectures. In microservices,
// calls counts the requests each service got.
type mode struct {
	name  string
	h     *echo.Echo
	calls func(service string) int64
}

// modes returns a monolith and a microservices gateway, each over
// services of its own; the microservices' are served on loopback and
// count the requests they get.
func modes(t testing.TB) []mode {
	t.Helper()
	reg := registry.New(time.Minute)
	l, err := services.Open(services.Storage{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var counts sync.Map // service -> *atomic.Int64
	for name, h := range l.Handlers {
		n := new(atomic.Int64)
		counts.Store(name, n)
		register(t, reg, name, name+"-1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h.ServeHTTP(w, r)
		}))
	}
	calls := func(service string) int64 {
		n, ok := counts.Load(service)
		if !ok {
			t.Fatalf("no service %q", service)
		}
		return n.(*atomic.Int64).Load()
	}
	return []mode{{name: "monolith", h: monolith(t)}, {name: "microservices", h: microservices(t, reg), calls: calls}}
}

// bothModes is modes by name.
func bothModes(t testing.TB) map[string]*echo.Echo {
	out := map[string]*echo.Echo{}
	for _, m := range modes(t) {
		out[m.name] = m.h
	}
	return out
}

// forBothModes runs test as a subtest in each mode.
func forBothModes(t *testing.T, test func(t *testing.T, m mode)) {
	for _, m := range modes(t) {
		t.Run(m.name, func(t *testing.T) { test(t, m) })
	}
}

// noDeadLetters is a broker with no dead letters (the real one runs in
// cmd/atrium's end-to-end tests and in package broker's).
type noDeadLetters struct{}

func (noDeadLetters) DeadLetters(context.Context, int) ([]broker.DeadLetter, error) {
	return []broker.DeadLetter{}, nil
}

// withAnswer is cfg with the edge's rendering of a checkout, as cmd wires it.
func withAnswer(cfg composite.Config) composite.Config {
	cfg.Answer = gateway.CheckoutAnswer
	return cfg
}

// register serves h on a real loopback server and registers it as service.
func register(t testing.TB, reg *registry.Registry, service, id string, h http.Handler) (addr string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr = strings.TrimPrefix(srv.URL, "http://")
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if err := reg.Register(registry.Instance{ID: id, Service: service, Address: host, Port: p}); err != nil {
		t.Fatal(err)
	}
	return addr
}

func do(t testing.TB, h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(gateway.RequestedWith, "test") // as a frontend's fetch would; TestCSRF goes without
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// wantProblem checks that w is a problem with status, a detail, a code
// and the request id, and returns it.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int) problem.Problem {
	t.Helper()
	var p problem.Problem
	if w.Code != status || w.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("got %d %s %s, want a %d problem", w.Code, w.Header().Get("Content-Type"), w.Body, status)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != status || p.Detail == "" || p.Code == "" || p.RequestID == "" {
		t.Fatalf("problem body %s: %v", w.Body, err)
	}
	return p
}

func TestProductPage(t *testing.T) {
	w := do(t, monolith(t), http.MethodGet, "/api/v1/products/p001/page", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var page composite.ProductPage
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if page.Product.ID != "p001" || page.Meta.Sources["product"].Status != orchestration.StatusOK {
		t.Errorf("page = %+v", page)
	}
	if st := w.Header().Get("Server-Timing"); !strings.Contains(st, "product;desc=ok;dur=") || !strings.Contains(st, "total;dur=") {
		t.Errorf("Server-Timing = %q", st)
	}
}

func TestBadInputIsAProblem(t *testing.T) {
	h := monolith(t)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown product", "GET", "/api/v1/products/p999/page", "", 404},
		{"malformed id", "GET", "/api/v1/products/abc/page", "", 400},
		{"unknown route", "GET", "/nope", "", 404},
		{"unknown service", "GET", "/services/nope/x", "", 404},
		{"unknown route of a service", "GET", "/services/catalog/nope", "", 404},
		{"bad json", "POST", "/api/v1/sessions", `{"email":`, 400},
		{"unknown field", "POST", "/api/v1/sessions", `{"email":"a@b.c","password":"x","admin":true}`, 400},
		{"oversize body", "POST", "/api/v1/sessions", `{"email":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"bad batch", "GET", "/services/catalog/products?ids=p001,,p002", "", 400},
		{"bad limit", "GET", "/services/catalog/products?limit=0", "", 400},
		{"service 404", "GET", "/services/catalog/products/p999", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, do(t, h, tt.method, tt.path, tt.body), tt.status)
		})
	}
}

func TestAdminToken(t *testing.T) {
	h := microservices(t, registry.New(time.Minute))
	wantProblem(t, do(t, h, "GET", "/admin/registry/instances", ""), http.StatusUnauthorized)
	wantProblem(t, do(t, h, "GET", "/admin/registry/instances", "", "Authorization", "Bearer wrong"), http.StatusForbidden)
	body := `{"id":"c-1","service":"catalog","address":"127.0.0.1","port":9}`
	wantProblem(t, do(t, h, "PUT", "/admin/registry/instances/c-1", body), http.StatusUnauthorized)
	if w := do(t, h, "PUT", "/admin/registry/instances/c-1", body, "Authorization", "Bearer "+token); w.Code != http.StatusOK {
		t.Errorf("an authorised registration: %d %s", w.Code, w.Body)
	}
	if w := do(t, h, "GET", "/admin/registry/instances", "", "Authorization", "Bearer "+token); w.Code != 200 || !strings.Contains(w.Body.String(), `"c-1"`) {
		t.Errorf("listing: %d %s", w.Code, w.Body)
	}
}

func TestNoInstanceIs503(t *testing.T) {
	h := microservices(t, registry.New(time.Minute))
	wantProblem(t, do(t, h, "GET", "/services/catalog/products", ""), http.StatusServiceUnavailable)
	p := wantProblem(t, do(t, h, "GET", "/api/v1/products/p001/page", ""), http.StatusBadGateway)
	if !strings.Contains(p.Detail, "product") {
		t.Errorf("detail %q does not name the failed source", p.Detail)
	}
}

func TestProxyHeaders(t *testing.T) {
	reg := registry.New(time.Minute)
	seen := make(chan http.Header, 1)
	register(t, reg, "catalog", "catalog-spy", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
	}))
	h := microservices(t, reg)
	w := do(t, h, "GET", "/services/catalog/products/p001?x=1", "", "Connection", "X-Secret", "X-Secret", "hop", "Keep-Alive", "timeout=5")
	if w.Code != http.StatusTeapot || w.Header().Get("X-Path") != "/products/p001?x=1" {
		t.Fatalf("proxied %d to %q", w.Code, w.Header().Get("X-Path"))
	}
	got := <-seen
	if got.Get("X-Secret") != "" || got.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop headers reached the upstream: %v", got)
	}
	if got.Get("X-Forwarded-For") == "" || got.Get("X-Forwarded-Host") == "" || got.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-* missing: %v", got)
	}
	if got.Get("X-Request-Id") == "" || got.Get("X-Request-Id") != w.Header().Get("X-Request-Id") {
		t.Errorf("request id %q not passed on (answered %q)", got.Get("X-Request-Id"), w.Header().Get("X-Request-Id"))
	}
}

func TestProxyTimeoutIs504(t *testing.T) {
	const timeout = 100 * time.Millisecond
	reg := registry.New(time.Minute)
	told := make(chan string, 1)
	register(t, reg, "catalog", "catalog-hung", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		told <- r.Header.Get(hop.TimeoutHeader)
		<-r.Context().Done() // never answers
	}))
	micro := microservicesWith(t, reg, composite.Config{}, func(c *gateway.Config) { c.ProxyTimeout = timeout })
	p := wantProblem(t, do(t, micro, "GET", "/services/catalog/products", ""), http.StatusGatewayTimeout)
	if p.Code != "upstream_timeout" {
		t.Errorf("code %q, want upstream_timeout", p.Code)
	}
	if got := <-told; got != "100" {
		t.Errorf("the service was told %s=%q, want 100", hop.TimeoutHeader, got)
	}

	mono := monolithWith(t, true, composite.Config{}, func(c *gateway.Config, l *services.Local) {
		c.ProxyTimeout = timeout
		if err := l.Faults["catalog"].Set(fault.Faults{LatencyMS: 60000}); err != nil {
			t.Fatal(err)
		}
	})
	wantProblem(t, do(t, mono, "GET", "/services/catalog/products", ""), http.StatusGatewayTimeout)
}

func TestMicroservicesMatchMonolith(t *testing.T) {
	reg := registry.New(time.Minute)
	l, err := services.Open(services.Storage{Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, h := range l.Handlers {
		register(t, reg, name, name+"-1", h)
	}
	micro, mono := microservices(t, reg), monolith(t)
	for _, path := range []string{"/api/v1/products/p001/page", "/api/v1/products/p042/page", "/services/reviews/summaries?ids=p001,p002"} {
		a, b := do(t, micro, "GET", path, ""), do(t, mono, "GET", path, "")
		if a.Code != 200 || b.Code != 200 {
			t.Fatalf("%s: %d vs %d", path, a.Code, b.Code)
		}
		if x, y := withoutMeta(t, a.Body.Bytes()), withoutMeta(t, b.Body.Bytes()); x != y {
			t.Errorf("%s differs:\nmicro %s\nmono  %s", path, x, y)
		}
	}
}

func withoutMeta(t *testing.T, b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "_meta")
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// FuzzGatewayNever5xx sends arbitrary requests — any path, body, one
// extra header, as an anonymous client, a session, the admin or a forger —
// to a monolith and to a microservices gateway: none is a 5xx, and an
// anonymous or forged request never gets a 2xx from a route the services
// keep to themselves.
func FuzzGatewayNever5xx(f *testing.F) {
	for _, seed := range []struct {
		method, path, body string
		who                uint8
		header             string
	}{
		{"GET", "/api/v1/products/p001/page", "", 0, ""},
		{"GET", "/services/catalog/products?ids=p001,p002&limit=3", "", 0, "X-Request-Id: abc"},
		{"PUT", "/services/cart/carts/u01/items/p001", `{"quantity":2}`, 1, ""},
		{"POST", "/services/orders/orders", `{"user_id":"u01","lines":[{"product_id":"p001","quantity":1,"price_cents":5}],"currency":"EUR"}`, 0, ""},
		{"POST", "/services/payments/charges", `{"user_id":"u01","amount_cents":-1,"currency":"EUR"}`, 2, ""},
		{"POST", "/services/payments/charges/ch-1/refund", "", 3, ""},
		{"POST", "/services/inventory/reservations", `{"lines":[{"product_id":"p001","quantity":1e9}]}`, 0, ""},
		{"DELETE", "/services/inventory/reservations/res-1", "", 1, ""},
		{"GET", "/services/users/users?ids=u01,u02,u03", "", 0, ""},
		{"GET", "/services/cart/carts/u02", "", 1, ""},
		{"GET", "/services/catalog/../users/users/u01", "", 0, ""},
		{"POST", "/api/v1/me/checkout", "", 1, "Expect: 100-continue"},
		{"POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"x"}`, 0, "X-Forwarded-For: 10.0.0.1"},
		{"GET", "/services/reviews/products/p001/reviews?limit=99999999999999999999", "", 0, "X-Atrium-Timeout-Ms: -5"},
	} {
		f.Add(seed.method, seed.path, seed.body, seed.who, seed.header)
	}
	modes := bothModes(f)
	cookies := map[string]string{"monolith": login(f, modes["monolith"]), "microservices": login(f, modes["microservices"])}
	f.Fuzz(func(t *testing.T, method, path, body string, who uint8, header string) {
		switch method {
		case "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS":
		default:
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || strings.HasPrefix(path, "/admin/services/") {
			return // the faults API could crash the process on purpose
		}
		for mode, h := range modes {
			req, err := http.NewRequest(method, "http://atrium"+path, strings.NewReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			if name, value, ok := strings.Cut(header, ": "); ok && httpguts.ValidHeaderFieldName(name) && httpguts.ValidHeaderFieldValue(value) {
				req.Header.Set(name, value)
			}
			switch who % 4 {
			case 1:
				req.Header.Set("Cookie", cookies[mode])
				req.Header.Set(gateway.RequestedWith, "fuzz")
			case 2:
				req.Header.Set("Authorization", "Bearer "+token)
			case 3:
				req.Header.Set("Authorization", "Bearer "+token+"x")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Errorf("%s: %s %s %q as %d answered %d: %s", mode, method, path, body, who%4, w.Code, w.Body)
			}
			var p problem.Problem
			if w.Header().Get("Content-Type") == problem.ContentType && (json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" || p.Detail == "") {
				t.Errorf("%s: %s %s as %d: a problem with no code or detail: %s", mode, method, path, who%4, w.Body)
			}
			if tail, ok := strings.CutPrefix(path, "/services/"); ok && w.Code < 300 && (who%4 == 0 || who%4 == 3) {
				name, sub, _ := strings.Cut(tail, "/")
				u, perr := url.Parse("/" + sub)
				if r, _, found := services.Surface(name).Match(method, u.EscapedPath()); perr == nil && found && r.Access != rest.Public {
					t.Errorf("%s: %s %s as %d reached a %s route: %d", mode, method, path, who%4, r.Access, w.Code)
				}
			}
		}
	})
}
