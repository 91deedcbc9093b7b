package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
)

// documented lists the document's operations as "METHOD /path/{param}",
// with the modes that serve each.
func documented() map[string][]string {
	ops := map[string][]string{}
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			modes := []string{"monolith", "microservices"}
			if m, ok := op.Extensions["x-atrium-modes"].([]any); ok {
				modes = modes[:0]
				for _, v := range m {
					modes = append(modes, v.(string))
				}
			}
			ops[method+" "+path] = modes
		}
	}
	return ops
}

// served lists a gateway's routes in the document's notation.
func served(e *echo.Echo) map[string]bool {
	out := map[string]bool{}
	for _, r := range e.Routes() {
		out[r.Method+" "+telemetry.Route(r.Path)] = true
	}
	return out
}

// TestRoutesAndDocumentAgree holds the gateway's routes and the document to
// each other, both ways, in both modes: an undocumented route or a
// documented operation that is not served fails.
func TestRoutesAndDocumentAgree(t *testing.T) {
	docs := documented()
	for mode, e := range map[string]*echo.Echo{"monolith": monolith(t), "microservices": microservices(t, registry.New(time.Minute))} {
		routes := served(e)
		proxied := map[string]bool{}
		for op, modes := range docs {
			method, path, _ := strings.Cut(op, " ")
			if rest, ok := strings.CutPrefix(path, "/services/"); ok {
				// The proxy serves every path of a service by one route.
				name, _, _ := strings.Cut(rest, "/")
				proxied[name] = true
				if !routes[method+" /services/{name}/*"] && !routes["echo_route_any /services/{name}/*"] {
					t.Errorf("%s: %s is documented but the proxy does not serve it", mode, op)
				}
				continue
			}
			if slices.Contains(modes, mode) && !routes[op] {
				t.Errorf("%s: %s is documented but not served", mode, op)
			}
		}
		for route := range routes {
			if strings.Contains(route, " /services/{name}/*") || strings.HasPrefix(route, "echo_route_not_found ") {
				continue // the proxy (checked above), and echo's 404 for a group
			}
			if _, ok := docs[route]; !ok {
				t.Errorf("%s: %s is served but not documented", mode, route)
			}
		}
		for _, name := range services.Names {
			if !proxied[name] {
				t.Errorf("no /services/%s/… route is documented", name)
			}
		}
	}
}

func TestRequestValidationNamesTheField(t *testing.T) {
	h := monolith(t)
	for _, tt := range []struct {
		method, path, body, field string
	}{
		{"GET", "/api/v1/products?limit=500", "", `query parameter "limit"`},
		{"GET", "/api/v1/products/p1/page", "", `path parameter "id"`},
		{"POST", "/api/v1/users/u01/cart/items", `{"product_id":"p001","quantity":0}`, `field "quantity"`},
		{"POST", "/api/v1/users/u01/cart/items", `{"product_id":"p001"}`, `"quantity"`},
		{"POST", "/api/v1/checkout", `{"user_id":"u01","coupon":"FREE"}`, `"coupon"`},
		{"GET", "/services/inventory/stock", "", `query parameter "ids"`},
	} {
		for range 2 { // the second time, the operation is known from the echo route
			w := do(t, h, tt.method, tt.path, tt.body)
			p := wantProblem(t, w, http.StatusBadRequest)
			if !strings.Contains(p.Detail, tt.field) {
				t.Errorf("%s %s: detail %q does not name %s", tt.method, tt.path, p.Detail, tt.field)
			}
		}
	}
}

func TestDocumentServed(t *testing.T) {
	h := monolith(t)
	w := do(t, h, "GET", "/openapi.json", "")
	var doc struct{ OpenAPI string }
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("/openapi.json: %d %.100s", w.Code, w.Body)
	}
	if w := do(t, h, "GET", "/openapi.yaml", ""); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "openapi: 3.1") {
		t.Errorf("/openapi.yaml: %d %.100s", w.Code, w.Body)
	}
	w = do(t, h, "GET", "/docs", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "/docs/swagger-ui-bundle.js") || strings.Contains(w.Body.String(), "https://") {
		t.Errorf("/docs: %d %.300s", w.Code, w.Body)
	}
	for _, asset := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "init.js", "favicon-32x32.png"} {
		if w := do(t, h, "GET", "/docs/"+asset, ""); w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("/docs/%s: %d", asset, w.Code)
		}
	}
	wantProblem(t, do(t, h, "GET", "/docs/nope.js", ""), http.StatusNotFound)
}

// BenchmarkValidation measures what request validation costs on the
// product page (served in-process), side by side with the same gateway
// without it.
func BenchmarkValidation(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			h := monolithWith(b, on, composite.Config{}, unlimited)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := do(b, h, "GET", "/api/v1/products?limit=5&category=books", ""); w.Code != 200 {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// TestProxySurfaceIsDocumented holds the services' declared surfaces and
// the document together: every route the proxy opens to anyone or to a
// user's session is documented, with the security its access needs, and
// every documented proxied operation is a declared route that is not a
// write.
func TestProxySurfaceIsDocumented(t *testing.T) {
	norm := func(path string) string { // "/carts/:user" and "/carts/{id}" are both "/carts/{}"
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "{") {
				parts[i] = "{}"
			}
		}
		return strings.Join(parts, "/")
	}
	type doc struct {
		security []string
	}
	docs := map[string]doc{}
	for path, item := range spec.Doc.Paths.Map() {
		if !strings.HasPrefix(path, "/services/") {
			continue
		}
		for method, op := range item.Operations() {
			var sec []string
			if op.Security != nil {
				for _, req := range *op.Security {
					for name := range req {
						sec = append(sec, name)
					}
				}
			}
			slices.Sort(sec)
			docs[method+" "+norm(path)] = doc{sec}
		}
	}
	want := map[rest.Access][]string{rest.Public: nil, rest.Owner: {"adminToken", "session"}, rest.Internal: {"adminToken"}}
	declared := map[string]bool{}
	for _, name := range services.Names {
		for _, r := range services.Surface(name) {
			key := r.Method + " " + norm("/services/"+name+r.Path)
			declared[key] = true
			d, documented := docs[key]
			switch {
			case !documented && r.Access != rest.Internal:
				t.Errorf("%s is %s but not documented", key, r.Access)
			case documented && r.Access == rest.Internal && r.Method != http.MethodGet:
				t.Errorf("%s is documented, but a service-to-service write is never proxied", key)
			case documented && !slices.Equal(d.security, want[r.Access]):
				t.Errorf("%s is %s: documented with security %v, want %v", key, r.Access, d.security, want[r.Access])
			}
		}
	}
	for key := range docs {
		if !declared[key] {
			t.Errorf("%s is documented but no service declares it", key)
		}
	}
}
