package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/services"
)

// proxy serves the API proxy, /services/{name}/…: it hands a request, with
// its path cut to the service's own, to the upstream of that service — but
// only a request to a route the service declares open to this caller
// (services.Surface): a public route to anyone, an owner route to that
// user's session, a service-to-service read to the admin credential, and a
// service-to-service write to no one from outside.
type proxy struct {
	upstreams map[string]http.Handler
	token     string
	sessions  session.Store
	tel       *telemetry.Telemetry
	timeout   time.Duration
	logger    *slog.Logger
}

// proxyGrace is how much longer than the budget it gives a service the
// proxy waits for the service's own answer.
const proxyGrace = 250 * time.Millisecond

// ErrServiceRoute refuses a write to a service-to-service route.
var ErrServiceRoute = problem.New(http.StatusForbidden, "service_route",
	"this route is service-to-service: it is not reachable from outside")

func (px *proxy) handler() echo.HandlerFunc {
	stripped := make(map[string]http.Handler, len(px.upstreams)) // built once, not per request
	for name, h := range px.upstreams {
		stripped[name] = http.StripPrefix("/services/"+name, h)
	}
	known := strings.Join(slices.Sorted(maps.Keys(px.upstreams)), ", ")
	return func(c echo.Context) error {
		name := c.Param("name")
		h, ok := stripped[name]
		if !ok {
			return problem.Newf(http.StatusNotFound, "unknown_service", "no service named %q; known: %s", name, known)
		}
		req := c.Request()
		route, user, ok := services.Surface(name).Match(readAs(req.Method), strings.TrimPrefix(req.URL.EscapedPath(), "/services/"+name))
		if !ok {
			return problem.Newf(http.StatusNotFound, "no_route", "service %s has no route %s %s", name, req.Method, c.Param("*"))
		}
		if err := px.admit(c, route, user); err != nil {
			return err
		}
		return px.forward(c, name, h)
	}
}

// admit returns nil when the request may call route; user is the value
// of the route's :user parameter.
func (px *proxy) admit(c echo.Context, route rest.Route, user string) error {
	switch route.Access {
	case rest.Public:
		return nil
	case rest.Owner:
		_, err := actingUser(px.token, px.sessions)(c, user)
		return err
	}
	if readAs(c.Request().Method) != http.MethodGet {
		return ErrServiceRoute
	}
	return server.CheckToken(c, px.token)
}

// forward hands the request to h. The upstream logs and answers with the
// same request id. It is told the request's budget (the proxy's timeout,
// or less if the client asked for less) and answers a 504 of its own when
// that passes; the gateway waits a little longer for that answer before it
// gives up on a service that does not answer at all.
func (px *proxy) forward(c echo.Context, name string, h http.Handler) error {
	budget := px.timeout
	if asked, ok := hop.Budget(c.Request().Header); ok {
		budget = min(budget, asked)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), budget+proxyGrace)
	defer cancel()
	if px.tel != nil {
		var span trace.Span
		ctx, span = px.tel.Span(ctx, "proxy", name)
		defer span.End()
	}
	req := c.Request().WithContext(ctx) // a copy: net/http answers the client's own request
	req.Method = readAs(req.Method)
	requestID := c.Response().Header().Get(echo.HeaderXRequestID)
	req.Header.Set(echo.HeaderXRequestID, requestID)
	hop.SetBudget(req.Header, budget)
	// The client's credentials are the gateway's business, not the
	// service's: the gateway authenticates to the service with its own.
	// And the gateway has answered the client's Expect: 100-continue
	// itself (by reading the body), so the service must not: its 100
	// would commit the client's answer before the real status.
	req.Header.Del(echo.HeaderAuthorization)
	req.Header.Del("Expect")
	dropSessionCookie(req)
	w := &upstreamWriter{ResponseWriter: c.Response(), path: c.Request().URL.Path, requestID: requestID}
	h.ServeHTTP(w, req)
	w.finish()
	return nil
}

// readAs is the method a service is asked with: GET for a HEAD, whose
// answer's body net/http drops (services route GET only).
func readAs(method string) string {
	if method == http.MethodHead {
		return http.MethodGet
	}
	return method
}

// dropSessionCookie removes the session cookie from req, keeping the
// others (a sticky balancer's, say).
func dropSessionCookie(req *http.Request) {
	if req.Header.Get("Cookie") == "" {
		return
	}
	cookies := req.Cookies()
	req.Header.Del("Cookie")
	for _, ck := range cookies {
		if ck.Name != session.Cookie {
			req.AddCookie(ck)
		}
	}
}

// upstreamWriter passes a service's answer on as the gateway's own: the
// gateway's X-Request-Id and X-Trace-Id stand alone (the service's copies
// are dropped), and a problem names the client's path and request, not the
// service's own path.
type upstreamWriter struct {
	http.ResponseWriter
	path, requestID string

	problem bool // a problem held back to be rewritten
	status  int
	body    bytes.Buffer
}

// maxProblem is the largest problem the proxy rewrites; a larger one is
// replaced by a plain one of the same status.
const maxProblem = 64 << 10

func (w *upstreamWriter) WriteHeader(code int) {
	if code < http.StatusOK {
		return // informational answers stay between the service and the gateway
	}
	h := w.Header()
	for _, k := range []string{echo.HeaderXRequestID, telemetry.TraceHeader} {
		if v := h.Values(k); len(v) > 1 {
			h.Set(k, v[0]) // the gateway's, set before the service answered
		}
	}
	if code >= http.StatusBadRequest && strings.HasPrefix(h.Get("Content-Type"), problem.ContentType) {
		w.problem, w.status = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *upstreamWriter) Write(b []byte) (int, error) {
	if !w.problem {
		return w.ResponseWriter.Write(b)
	}
	if w.body.Len()+len(b) <= maxProblem {
		w.body.Write(b)
	}
	return len(b), nil
}

// Flush passes a streamed answer on as it comes.
func (w *upstreamWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.problem {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the gateway's writer.
func (w *upstreamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a problem held back, with the client's instance and
// request id.
func (w *upstreamWriter) finish() {
	if !w.problem {
		return
	}
	w.Header().Del("Content-Length")
	problem.Write(w.ResponseWriter, restamp(w.status, w.body.Bytes(), w.path, w.requestID))
}

// NewProxy returns the API proxy's upstream for a service whose instances
// transport reaches by name (a *balance.Transport), sending the service's
// credential (its Authorization header value; "" for none). The proxy
// strips hop-by-hop headers, sets X-Forwarded-For/-Host/-Proto, and answers
// a failure as a problem: 503 when the service has no live instance, 504
// when the instance timed out, 502 otherwise. The cause is logged, not
// shown.
func NewProxy(service string, transport http.RoundTripper, credential string, logger *slog.Logger) http.Handler {
	target := &url.URL{Scheme: "http", Host: service}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			if credential != "" {
				pr.Out.Header["Authorization"] = []string{credential}
			}
			// SetURL joined the target's empty path: keep the incoming one.
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
		},
		Transport:  transport,
		BufferPool: NewBufferPool(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p := proxyProblem(service, err)
			if p.Status == http.StatusBadGateway && logger != nil {
				logger.WarnContext(r.Context(), "proxy error", "service", service, "err", err)
			}
			p.Instance = r.URL.Path
			p.RequestID = r.Header.Get(echo.HeaderXRequestID)
			problem.Write(w, p)
		},
	}
}

// NewBufferPool returns a pool of the buffers that copy a ReverseProxy's
// answers to clients: without one, ReverseProxy makes a 32 KiB buffer per
// request, and at capacity the garbage collector spent a quarter of the
// gateway's CPU on them.
func NewBufferPool() httputil.BufferPool { return new(bufferPool) }

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func proxyProblem(service string, err error) *problem.Problem {
	switch {
	case errors.Is(err, balance.ErrNoInstance):
		return problem.Newf(http.StatusServiceUnavailable, "no_instance", "service %s has no live instance", service)
	case errors.Is(err, context.DeadlineExceeded):
		return problem.Newf(http.StatusGatewayTimeout, "upstream_timeout", "service %s did not answer in time", service)
	}
	return problem.Newf(http.StatusBadGateway, "upstream_failed", "service %s failed to answer", service)
}
