// Package gateway is atrium's edge: one echo server with the middleware
// chain, the composite endpoints, the API proxy (/services/{name}/...), the
// admin API guarded by a bearer token, and health endpoints. The same
// gateway serves a monolith (services in-process) and microservices
// (services behind the registry); only the Config differs.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/openapi"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services/fault"
)

// GatewayHeader names the gateway process that answered, for a balancer's
// tests and for debugging.
const GatewayHeader = "X-Atrium-Gateway"

// Config configures New.
type Config struct {
	// Name names this gateway in the X-Atrium-Gateway header of every
	// answer. Empty means no header.
	Name string
	// Logger receives the access log. If nil, slog.Default() is used.
	Logger *slog.Logger
	// AdminToken guards /admin/. Empty disables the admin API.
	AdminToken string
	// BodyLimit caps request bodies ["1M"].
	BodyLimit string
	// Composer serves /api/v1. Required.
	Composer *composite.Composer
	// Upstreams serve /services/{name}/..., keyed by service name, each
	// seeing the path after the name. A name not here is a 404.
	Upstreams map[string]http.Handler
	// ProxyTimeout bounds each proxied request (a client may ask for less
	// in the hop.TimeoutHeader header) and is passed on to the service in
	// that header; past it the answer is a 504 [10s].
	ProxyTimeout time.Duration
	// Registry, when not nil, is served under /admin/registry.
	Registry *registry.Registry
	// Faults, when not nil, is served under /admin/services/{name}/faults.
	Faults Faults
	// Ready reports readiness for /readyz. If nil, always ready.
	Ready func(context.Context) error
	// Telemetry, when not nil, traces and measures requests, serves
	// /metrics, and serves the traces API under /admin/traces, gathering a
	// trace's spans from TracePeers too.
	Telemetry  *telemetry.Telemetry
	TracePeers telemetry.Peers
	// Sessions, when not nil, keeps login sessions: /api/v1/sessions and
	// /api/v1/me... are served.
	Sessions session.Store
	// Spec, when not nil, is served at /openapi.json, /openapi.yaml and
	// /docs, and every request to a documented operation is validated
	// against it.
	Spec *openapi.Spec
}

// New returns the gateway's handler.
func New(cfg Config) *echo.Echo {
	e := server.New(server.Config{
		Logger:    cfg.Logger,
		BodyLimit: cfg.BodyLimit,
		MapError:  mapError,
		Telemetry: cfg.Telemetry,
	})
	if cfg.Name != "" {
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				c.Response().Header().Set(GatewayHeader, cfg.Name)
				return next(c)
			}
		})
	}
	server.Health(e, cfg.Ready)
	var validate []echo.MiddlewareFunc
	if cfg.Spec != nil {
		cfg.Spec.Routes(e)
		validate = append(validate, cfg.Spec.Validate())
	}
	api := e.Group("/api/v1", validate...)
	compositeRoutes(api, cfg.Composer, actingUser(cfg.AdminToken, cfg.Sessions))
	if cfg.Sessions != nil {
		sessionRoutes(api, cfg.Sessions, cfg.Composer)
	}
	proxyTimeout := cfg.ProxyTimeout
	if proxyTimeout <= 0 {
		proxyTimeout = 10 * time.Second
	}
	e.Any("/services/:name/*", proxyRoute(cfg.Upstreams, cfg.Telemetry, proxyTimeout), validate...)
	if cfg.AdminToken != "" {
		admin := e.Group("/admin", append([]echo.MiddlewareFunc{server.RequireToken(cfg.AdminToken)}, validate...)...)
		if cfg.Registry != nil {
			registry.Routes(admin.Group("/registry"), cfg.Registry)
		}
		if cfg.Faults != nil {
			faultRoutes(admin, cfg.Faults)
		}
		if cfg.Telemetry != nil {
			cfg.Telemetry.Routes(admin.Group("/traces"), cfg.TracePeers, cfg.AdminToken)
		}
	}
	return e
}

func mapError(err error) *problem.Problem {
	for _, m := range []func(error) *problem.Problem{compositeProblem, registry.Problem, fault.Problem} {
		if p := m(err); p != nil {
			return p
		}
	}
	if errors.Is(err, balance.ErrNoInstance) {
		return problem.New(http.StatusServiceUnavailable, "no_instance", err.Error())
	}
	return nil
}

// proxyRoute serves /services/{name}/rest by handing the request, with its
// path cut to /rest, to the upstream of name.
// proxyGrace is how much longer than the budget it gives a service the
// proxy waits for the service's own answer.
const proxyGrace = 250 * time.Millisecond

func proxyRoute(upstreams map[string]http.Handler, tel *telemetry.Telemetry, timeout time.Duration) echo.HandlerFunc {
	stripped := make(map[string]http.Handler, len(upstreams)) // built once, not per request
	for name, h := range upstreams {
		stripped[name] = http.StripPrefix("/services/"+name, h)
	}
	return func(c echo.Context) error {
		name := c.Param("name")
		h, ok := stripped[name]
		if !ok {
			return problem.Newf(http.StatusNotFound, "unknown_service", "no service named %q; known: %s", name, strings.Join(sortedKeys(upstreams), ", "))
		}
		// The upstream logs and answers with the same request id. It is
		// told the request's budget (the proxy's timeout, or less if the
		// client asked for less) and answers a 504 of its own when that
		// passes; the gateway waits a little longer for that answer
		// before it gives up on a service that does not answer at all.
		budget := timeout
		if ms, err := strconv.ParseInt(c.Request().Header.Get(hop.TimeoutHeader), 10, 64); err == nil && ms > 0 {
			budget = min(budget, time.Duration(ms)*time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), budget+proxyGrace)
		defer cancel()
		if tel != nil {
			var span trace.Span
			ctx, span = tel.Span(ctx, "proxy", name)
			defer span.End()
		}
		req := c.Request().WithContext(ctx)
		req.Header.Set(echo.HeaderXRequestID, c.Response().Header().Get(echo.HeaderXRequestID))
		req.Header.Set(hop.TimeoutHeader, strconv.FormatInt(max(budget.Milliseconds(), 1), 10))
		h.ServeHTTP(c.Response(), req)
		return nil
	}
}
