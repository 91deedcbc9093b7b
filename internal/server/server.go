// Package server builds the echo instance every atrium process serves from,
// with one middleware chain, problem+json errors and graceful shutdown.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/mattn/go-isatty"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/telemetry"
)

// Config configures New. The zero value is usable.
type Config struct {
	// Logger receives the access log and unexpected errors. If nil,
	// slog.Default() is used.
	Logger *slog.Logger
	// BodyLimit caps request bodies, in echo's size syntax. Default "1M".
	BodyLimit string
	// MapError turns a handler's error into a problem. It returns nil for
	// errors it does not know, which then get the default mapping
	// (echo.HTTPError keeps its status, anything else is a 500).
	MapError func(error) *problem.Problem
	// Telemetry, when not nil, traces and measures every request and
	// serves GET /metrics.
	Telemetry *telemetry.Telemetry
	// AccessLevel is the level of each request's access line [EdgeLevel].
	AccessLevel AccessLevel
}

// AccessLevel says how loud a request's access line is, given its answer's
// status.
type AccessLevel func(c echo.Context, status int) slog.Level

// EdgeLevel is the access level of a server that clients call: probes,
// scrapes and registry renewals at debug, whatever they answer (a quiet
// log when idle, and while starting: not ready is no failure), a failure
// (5xx) at warn, every other request at info.
func EdgeLevel(c echo.Context, status int) slog.Level {
	switch p := c.Request().URL.Path; {
	case p == "/healthz" || p == "/readyz" || p == "/metrics",
		c.Request().Method == http.MethodPut && strings.HasPrefix(p, "/admin/registry/instances/"):
		return slog.LevelDebug
	case status >= 500:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// InternalLevel is the access level of a service instance: its calls are
// the gateway's, which logs the client's request, so they are at debug, and
// a failure (5xx) at warn.
func InternalLevel(_ echo.Context, status int) slog.Level {
	if status >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// New returns an echo instance with, in order: request id, tracing and
// metrics (with Telemetry), access log, panic recovery, body-size limit.
// Errors answer as application/problem+json.
func New(cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "1M"
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = ErrorHandler(cfg.Logger, cfg.MapError)
	e.Use(validRequestID, middleware.RequestID())
	if cfg.Telemetry != nil {
		e.Use(cfg.Telemetry.Middleware())
		e.GET("/metrics", echo.WrapHandler(cfg.Telemetry.MetricsHandler()))
	}
	e.Use(
		AccessLog(cfg.Logger, cfg.AccessLevel),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				cfg.Logger.ErrorContext(c.Request().Context(), "panic", "err", err, "path", c.Request().URL.Path, "stack", string(stack))
				return err
			},
		}),
		middleware.BodyLimit(cfg.BodyLimit),
	)
	return e
}

// validRequestID drops a client's X-Request-Id that is not 1 to 128 of
// [A-Za-z0-9._:-], so that a new one is made: a request id is logged and
// answered on every line, so a client may not make it large or odd.
func validRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !ValidRequestID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

// ValidRequestID reports whether id may serve as a request id: 1 to 128 of
// [A-Za-z0-9._:-].
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// AccessLog writes one structured line per request, at the level level
// gives it (EdgeLevel when nil); a line below the logger's level costs
// nothing but the check.
func AccessLog(logger *slog.Logger, level AccessLevel) echo.MiddlewareFunc {
	if level == nil {
		level = EdgeLevel
	}
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true, LogError: true, LogResponseSize: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			lvl := level(c, v.Status)
			if !logger.Enabled(c.Request().Context(), lvl) {
				return nil
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("uri", redact(v.URI)),
				slog.Int("status", v.Status), slog.Float64("duration_ms", float64(v.Latency.Microseconds())/1000),
				slog.Int64("bytes", v.ResponseSize), slog.String("request_id", v.RequestID),
				slog.String("remote_ip", v.RemoteIP),
			}
			if v.Error != nil {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			logger.LogAttrs(c.Request().Context(), lvl, "access", attrs...)
			return nil
		},
	})
}

// redact hides the value of a query parameter that is a credential (a
// trace link's link=) in a URI the access log writes: a log reader must
// not be able to use it.
func redact(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok || !strings.Contains(query, "link=") {
		return uri
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return path + "?(a query that does not parse)"
	}
	q.Set("link", "redacted")
	return path + "?" + q.Encode()
}

// ErrorHandler answers every error as application/problem+json. mapErr may
// be nil.
func ErrorHandler(logger *slog.Logger, mapErr func(error) *problem.Problem) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := toProblem(err, mapErr)
		if p.Status >= 500 && p.Status != http.StatusBadGateway && p.Status != http.StatusServiceUnavailable && p.Status != http.StatusGatewayTimeout {
			logger.ErrorContext(c.Request().Context(), "internal error", "err", err, "path", c.Request().URL.Path)
		}
		cp := *p
		cp.Instance = c.Request().URL.Path
		cp.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(cp.Status)
			return
		}
		problem.Write(c.Response(), &cp)
	}
}

func toProblem(err error, mapErr func(error) *problem.Problem) *problem.Problem {
	if p, ok := problem.As(err); ok {
		return p
	}
	if mapErr != nil {
		if p := mapErr(err); p != nil {
			return p
		}
	}
	if k := domain.KindOf(err); k != 0 {
		return problem.New(k.Status(), k.String(), err.Error())
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		detail, code := fmt.Sprint(he.Message), statusCode(he.Code)
		switch he.Code {
		case http.StatusNotFound:
			detail, code = "no such route", "no_route"
		case http.StatusMethodNotAllowed:
			detail = "method not allowed on this route"
		case http.StatusRequestEntityTooLarge:
			detail, code = "request body is larger than the server accepts", "too_large"
		}
		return problem.New(he.Code, code, detail)
	}
	return problem.New(http.StatusInternalServerError, "internal", "internal server error")
}

// statusCode is the problem code of a status that has no other: its text
// in snake case ("method_not_allowed").
func statusCode(status int) string {
	return strings.ReplaceAll(strings.ToLower(strings.ReplaceAll(http.StatusText(status), "-", " ")), " ", "_")
}

// The limits every atrium server puts on a request: its headers must arrive
// within ReadHeaderTimeout and may not exceed MaxHeaderBytes (net/http
// answers 431), and the whole request must arrive within
// Options.ReadTimeout.
const (
	ReadHeaderTimeout = 5 * time.Second
	MaxHeaderBytes    = 32 << 10
)

// Options tune ServeWith. Zero fields take the defaults in brackets.
type Options struct {
	// Grace is how long a server that shares its listening socket with
	// others (a cluster worker) drains before it shuts down: it stops
	// accepting and answers with "Connection: close", so that clients move
	// their keep-alive connections to the other workers [0: none].
	Grace time.Duration
	// ReadTimeout bounds the reading of a whole request, body included, so
	// that a client sending a byte a second is cut off [15s].
	ReadTimeout time.Duration
}

// Serve serves h on ln until ctx is done, then shuts down gracefully, giving
// in-flight requests up to 10 seconds.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return ServeWith(ctx, ln, h, Options{})
}

// ServeWith is Serve with options.
func ServeWith(ctx context.Context, ln net.Listener, h http.Handler, opts Options) error {
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 15 * time.Second
	}
	grace := opts.Grace
	streams, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: min(ReadHeaderTimeout, opts.ReadTimeout), ReadTimeout: opts.ReadTimeout,
		MaxHeaderBytes: MaxHeaderBytes, IdleTimeout: 90 * time.Second,
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), shutdownKey{}, streams.Done())
		}}
	srv.RegisterOnShutdown(stopStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if grace > 0 {
		srv.SetKeepAlivesEnabled(false)
		_ = ln.Close()
		time.Sleep(grace) // bounded: the drain the caller asked for
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

type shutdownKey struct{}

// ShuttingDown returns a channel closed when the server that serves the
// request of ctx shuts down: a long answer (a stream of events) ends then,
// rather than hold the shutdown up; nil (never closed) outside ServeWith.
func ShuttingDown(ctx context.Context) <-chan struct{} {
	done, _ := ctx.Value(shutdownKey{}).(<-chan struct{})
	return done
}

// Deadline gives each request the deadline its caller propagated in the
// hop.TimeoutHeader header, so that work for a caller who gave up stops.
func Deadline() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			budget, ok := hop.Budget(c.Request().Header)
			if !ok {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), budget)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// RequireToken admits requests that carry "Authorization: Bearer <token>".
func RequireToken(token string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := CheckToken(c, token); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// CheckToken returns nil when the request carries "Authorization: Bearer
// <token>", a 401 problem when it carries no Authorization, and a 403 when
// it carries another one or token is empty (no admin API).
func CheckToken(c echo.Context, token string) error {
	return CheckTokens(c, func(got string) bool { return SameToken(got, token) })
}

// CheckTokens is CheckToken for a request that may carry one of several
// tokens: ok says whether the bearer token it carries is one.
func CheckTokens(c echo.Context, ok func(token string) bool) error {
	got, found := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="atrium"`)
		return problem.New(http.StatusUnauthorized, "unauthorized", "this route needs an Authorization: Bearer token")
	}
	if !found || !ok(got) {
		return problem.New(http.StatusForbidden, "forbidden", "the bearer token is not valid here")
	}
	return nil
}

// SameToken compares a token a request carries with the one expected, in
// constant time; an empty expected token matches nothing.
func SameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Health registers GET /healthz (alive) and GET /readyz (ready when ready
// returns nil; a nil ready means always ready).
func Health(e *echo.Echo, ready func(context.Context) error) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		if ready != nil {
			if err := ready(c.Request().Context()); err != nil {
				return problem.New(http.StatusServiceUnavailable, "not_ready", err.Error())
			}
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
}

// NewLogger returns a slog logger at the named level ("debug", "info",
// "warn", "error"; default info) tagged with the process's component, in
// format "json" (one object a line), "text" (key=value) or "auto" (text
// when w is a terminal, json otherwise). A line written with a context
// inside a span carries trace_id and span_id.
func NewLogger(w io.Writer, level, format, component string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler(h)).With("component", component)
}
