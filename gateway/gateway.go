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
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/openapi"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/catalog"
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
	// Registry, when not nil, is served under /admin/registry, and
	// PUT /admin/services/{name}/replicas with it.
	Registry registry.Engine
	// Scale starts and stops a service's replicas (atrium up's); nil on a
	// gateway that does not run its services.
	Scale Scale
	// Faults, when not nil, is served under /admin/services/{name}/faults.
	Faults Faults
	// Ready reports readiness for /readyz. If nil, always ready.
	Ready func(context.Context) error
	// Events, when not nil, is the broker: /admin/events/dead lists the
	// events its consumers failed on every delivery.
	Events DeadLetters
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
	// Limits are the abuse limits: requests per client, login attempts,
	// requests at once.
	Limits Limits
	// CORSOrigins are the browser origins (scheme://host[:port]) whose
	// pages may call the gateway with their user's session cookie; none by
	// default.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For the gateway
	// believes when it tells one client from another (for the limits and
	// the access log); nil means loopback only (an nginx in front on the
	// same machine). A client outside them is its connection's address.
	TrustedProxies []netip.Prefix
}

// New returns the gateway's handler.
func New(cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := server.New(server.Config{
		Logger:    cfg.Logger,
		BodyLimit: cfg.BodyLimit,
		MapError:  mapError,
		Telemetry: cfg.Telemetry,
	})
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	if len(cfg.CORSOrigins) > 0 {
		e.Pre(cors(cfg.CORSOrigins))
	}
	e.Pre(headAsGet)
	e.Use(headRestored, methodNotAllowed(e), compress())
	limits := cfg.Limits.withDefaults()
	e.Use(shed(limits.MaxInFlight), perClient(limits, cfg.Logger))
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
	api := e.Group("/api/v1", append([]echo.MiddlewareFunc{csrf}, validate...)...)
	compositeRoutes(api, cfg.Composer, actingUser(cfg.AdminToken, cfg.Sessions))
	if cfg.Sessions != nil {
		sessionRoutes(api, cfg.Sessions, cfg.Composer, limits, cfg.Logger)
	}
	proxyTimeout := cfg.ProxyTimeout
	if proxyTimeout <= 0 {
		proxyTimeout = 10 * time.Second
	}
	px := &proxy{upstreams: cfg.Upstreams, token: cfg.AdminToken, sessions: cfg.Sessions, tel: cfg.Telemetry,
		timeout: proxyTimeout, logger: cfg.Logger}
	e.Any("/services/:name/*", px.handler(), validate...)
	if cfg.AdminToken != "" {
		if cfg.Registry != nil {
			registry.Routes(e.Group("/admin/registry", validate...), cfg.Registry, registryAuth(cfg.AdminToken))
		}
		admin := e.Group("/admin", append([]echo.MiddlewareFunc{server.RequireToken(cfg.AdminToken)}, validate...)...)
		if cfg.Faults != nil {
			faultRoutes(admin, cfg.Faults)
		}
		if cfg.Registry != nil {
			scaleRoutes(admin, cfg.Scale)
		}
		// Profiles of the running gateway, for go tool pprof.
		prof := e.Group("/debug/pprof", server.RequireToken(cfg.AdminToken))
		prof.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
		prof.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
		prof.GET("/:name", func(c echo.Context) error {
			pprof.Handler(c.Param("name")).ServeHTTP(c.Response(), c.Request())
			return nil
		})
		if cfg.Events != nil {
			admin.GET("/events/dead", func(c echo.Context) error {
				limit, err := rest.Limit(c, 50, 500)
				if err != nil {
					return err
				}
				dead, err := cfg.Events.DeadLetters(c.Request().Context(), limit)
				if err != nil {
					return problem.Newf(http.StatusServiceUnavailable, "broker_unavailable", "the broker did not answer: %v", err)
				}
				return c.JSON(http.StatusOK, dead)
			})
		}
		admin.PUT("/catalog/products/:id/price", func(c echo.Context) error {
			var body struct {
				PriceCents int64 `json:"price_cents"`
			}
			id, err := param(c, "id", catalog.ValidID, "p and 3 to 8 digits")
			if err == nil {
				err = rest.Bind(c, &body)
			}
			if err != nil {
				return err
			}
			p, err := cfg.Composer.SetPrice(c.Request().Context(), id, body.PriceCents)
			return rest.Reply(c, http.StatusOK, p, err)
		})
		admin.GET("/sagas", func(c echo.Context) error {
			rep, err := cfg.Composer.Runs(c.Request().Context())
			return rest.Reply(c, http.StatusOK, rep, err)
		})
		if cfg.Telemetry != nil {
			cfg.Telemetry.Routes(e.Group("/admin/traces", append([]echo.MiddlewareFunc{traceAuth(cfg.AdminToken)}, validate...)...), cfg.TracePeers)
			traceLinkRoute(admin, cfg.AdminToken)
		}
	}
	return e
}

// DeadLetters lists the broker's dead letters (broker.Bus).
type DeadLetters interface {
	DeadLetters(ctx context.Context, limit int) ([]broker.DeadLetter, error)
}

// clientIP tells clients apart by their connection's address, or by the
// X-Forwarded-For of a proxy in trusted (loopback when nil).
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	opts := []echo.TrustOption{echo.TrustLoopback(true), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	if trusted != nil {
		opts = []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, p := range trusted {
			opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// registryAuth admits the admin token to the whole registry API, and a
// service's own credential (services.Token) to registering and
// deregistering instances of that service.
func registryAuth(admin string) registry.Authorize {
	return func(c echo.Context, service string) error {
		return server.CheckTokens(c, func(got string) bool {
			switch {
			case server.SameToken(got, admin):
				return true
			case service == registry.AnyService:
				return slices.ContainsFunc(services.Names, func(n string) bool { return server.SameToken(got, services.Token(admin, n)) })
			case service != "":
				return server.SameToken(got, services.Token(admin, service))
			}
			return false
		})
	}
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
