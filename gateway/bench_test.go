package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/compare"
	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/gateway/limit"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
)

// benchLimits let one client's requests through as fast as they go: the
// per-client limit would measure itself.
var benchLimits = gateway.Limits{PerClient: limit.Unlimited(), LoginPerAccount: limit.Unlimited(), LoginPerAddress: limit.Unlimited()}

func unlimited(c *gateway.Config, _ *services.Local) { c.Limits = benchLimits }

// BenchmarkProductPage measures the product-page composite through the
// gateway's handler, side by side in both modes: services in-process
// (monolith) and services behind real loopback HTTP servers found through
// the registry (microservices); without the cache, where every source is
// called, and with it, where they are all hits.
func BenchmarkProductPage(b *testing.B) {
	reg := registry.New(time.Hour)
	l, err := services.Open(services.Storage{Dir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for name, h := range l.Handlers {
		register(b, reg, name, name+"-1", h)
	}
	uncached := composite.Config{NoCache: true}
	unlimitedRemote := func(c *gateway.Config) { c.Limits = benchLimits }
	cached := monolithWith(b, true, roomy, unlimited)
	monoUncached, microUncached := monolithWith(b, true, uncached, unlimited), microservicesWith(b, reg, uncached, unlimitedRemote)
	const page, productOnly = "/api/v1/products/p001/page", "/api/v1/products/p001/page?fields=product"
	for _, mode := range []struct {
		name string
		h    http.Handler
		path string
		gzip bool
	}{
		{"monolith/uncached", monoUncached, page, false},
		{"microservices/uncached", microUncached, page, false},
		{"monolith/uncached/fields=product", monoUncached, productOnly, false}, // one call instead of seven
		{"microservices/uncached/fields=product", microUncached, productOnly, false},
		{"monolith/cached", cached, page, false},
		{"microservices/cached", microservicesWith(b, reg, roomy, unlimitedRemote), page, false},
		{"monolith/cached/gzip", cached, page, true}, // what compressing the page costs, beside monolith/cached
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, mode.path, nil)
					if mode.gzip {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					mode.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkTracing measures what telemetry costs the product page
// (in-process services behind the monolith's fault hook, no cache: seven
// calls a page), side by side: off (no telemetry), metrics with tracing that
// never samples, and metrics with one trace in a hundred or every trace
// sampled.
func BenchmarkTracing(b *testing.B) {
	for _, mode := range []struct {
		name   string
		sample float64 // 0: no telemetry at all; -1: metrics, and tracing that never samples
	}{{"off", 0}, {"sample-0", -1}, {"sample-0.01", 0.01}, {"sample-1", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			l, err := services.Open(services.Storage{Dir: b.TempDir()}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			cfg := gateway.Config{Logger: quiet, Upstreams: l.Handlers, Limits: benchLimits}
			ocfg := composite.Config{NoCache: true}
			if mode.sample != 0 {
				tel, err := telemetry.New(context.Background(), telemetry.Config{Service: "bench", SampleRatio: mode.sample})
				if err != nil {
					b.Fatal(err)
				}
				defer tel.Shutdown(context.Background())
				cfg.Telemetry = tel
				ocfg.Runtime = orchestration.RuntimeConfig{Tracer: tel.Tracer, Meter: tel.Meter, InProcess: l.InProcess(tel.Tracer)}
			}
			if mode.sample == 0 { // the monolith's in-process fault hook, untraced
				ocfg.Runtime.InProcess = l.InProcess(nil)
			}
			cfg.Composer = composite.New(l.Set, ocfg)
			h := gateway.New(cfg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := do(b, h, http.MethodGet, "/api/v1/products/p001/page", ""); w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// BenchmarkProxy measures a proxied request through the gateway's handler
// (its middleware, the route's surface check and OpenAPI validation, the
// balancing transport) beside net/http's floor (compare.FloorProxy), both
// to the same catalog instance on loopback: the difference is what atrium
// adds to a request over net/http's own cost.
func BenchmarkProxy(b *testing.B) {
	reg := registry.New(time.Hour)
	product := []byte(`{"id":"p001","name":"Trail Shoe 1","category":"sports","description":"A shoe.","price_cents":4999,"currency":"EUR"}`)
	catalog := register(b, reg, services.Catalog, "catalog-1", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(product)
	}))
	// Telemetry as atrium's defaults have it: one new trace in a hundred.
	sampled, err := telemetry.New(context.Background(), telemetry.Config{Service: "bench", RingTraces: 16, SampleRatio: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	defer sampled.Shutdown(context.Background())
	for _, px := range []struct {
		name string
		h    http.Handler
	}{
		{"atrium", microservicesWith(b, reg, roomy, func(c *gateway.Config) { c.Limits, c.Telemetry = benchLimits, sampled })},
		{"floor", compare.FloorProxy(catalog, "")},
	} {
		b.Run(px.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w := httptest.NewRecorder()
					px.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/services/catalog/products/p001", nil))
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
