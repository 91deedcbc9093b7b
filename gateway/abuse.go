package gateway

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/gateway/limit"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/problem"
)

// Limits are the gateway's abuse limits. Zero fields take the defaults in
// brackets; limit.Unlimited() turns a limit off.
type Limits struct {
	// Limiter keeps the token buckets: in memory (one gateway) or in Redis
	// (shared by every gateway) [limit.Memory].
	Limiter limit.Limiter
	// PerClient is every client address's budget of requests
	// [100 per second, burst 200].
	PerClient limit.Limit
	// LoginPerAccount and LoginPerAddress bound login attempts, per e-mail
	// address tried and per client address, so that guessing a password is
	// slow [5 per minute, burst 5; 20 per minute, burst 20].
	LoginPerAccount, LoginPerAddress limit.Limit
	// MaxInFlight caps the requests the gateway serves at once; more are
	// shed with a 503 at once rather than queued [1024].
	MaxInFlight int
}

func (l Limits) withDefaults() Limits {
	if l.Limiter == nil {
		l.Limiter = new(limit.Memory)
	}
	if l.PerClient == (limit.Limit{}) {
		l.PerClient = limit.Limit{Count: 100, Per: time.Second, Burst: 200}
	}
	if l.LoginPerAccount == (limit.Limit{}) {
		l.LoginPerAccount = limit.Limit{Count: 5, Per: time.Minute, Burst: 5}
	}
	if l.LoginPerAddress == (limit.Limit{}) {
		l.LoginPerAddress = limit.Limit{Count: 20, Per: time.Minute, Burst: 20}
	}
	if l.MaxInFlight == 0 {
		l.MaxInFlight = 1024
	}
	return l
}

// exempt are the paths no limit applies to: probes and scrapes.
func exempt(path string) bool { return path == "/healthz" || path == "/readyz" || path == "/metrics" }

// shed answers 503 to the requests past max in flight at once: a clear
// answer now rather than a queue that grows until every request times out.
func shed(max int) echo.MiddlewareFunc {
	var inFlight atomic.Int64
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if exempt(c.Request().URL.Path) {
				return next(c)
			}
			defer inFlight.Add(-1)
			if inFlight.Add(1) > int64(max) {
				c.Response().Header().Set("Retry-After", "1")
				return problem.Newf(http.StatusServiceUnavailable, "overloaded",
					"the gateway is serving its most requests at once (%d): retry in a second", max)
			}
			return next(c)
		}
	}
}

// perClient spends a token of the client's bucket on every request.
func perClient(l Limits, logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if exempt(c.Request().URL.Path) {
				return next(c)
			}
			if err := spend(c, l.Limiter, "client:"+c.RealIP(), l.PerClient, "requests from your address", logger); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// spend takes a token of key's bucket, and returns a 429 problem with
// Retry-After when there is none. A limiter that fails lets the request
// through: the limits guard the services, they must not stop them.
func spend(c echo.Context, lim limit.Limiter, key string, l limit.Limit, what string, logger *slog.Logger) error {
	d, err := lim.Allow(c.Request().Context(), key, l)
	if err != nil {
		logger.WarnContext(c.Request().Context(), "rate limiter failed; request let through", "err", err)
		return nil
	}
	if d.Allowed {
		return nil
	}
	secs := max(int(math.Ceil(d.RetryAfter.Seconds())), 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return problem.Newf(http.StatusTooManyRequests, "rate_limited",
		"too many %s (at most %d per %v, %d at once): retry in %d s", what, l.Count, l.Per, l.Burst, secs)
}

// loginLimits spends a login attempt of the account tried and of the
// client's address.
func loginLimits(c echo.Context, l Limits, email string, logger *slog.Logger) error {
	if err := spend(c, l.Limiter, "login-address:"+c.RealIP(), l.LoginPerAddress, "login attempts from your address", logger); err != nil {
		return err
	}
	account := strings.ToLower(strings.TrimSpace(email))
	account = account[:min(len(account), 254)] // the longest e-mail address
	return spend(c, l.Limiter, "login-account:"+account, l.LoginPerAccount, fmt.Sprintf("login attempts for %q", account), logger)
}

// RequestedWith is the header a state-changing /api/v1 request must carry
// unless it carries the admin token.
const RequestedWith = "X-Requested-With"

// ErrCSRF refuses a state-changing request without RequestedWith.
var ErrCSRF = problem.New(http.StatusForbidden, "csrf",
	"a state-changing request made with the session cookie (or logging in or out) must carry the header "+
		RequestedWith+" (any value), which another site's form cannot send")

// csrf refuses a state-changing request made with the session cookie, and
// a login or logout, unless it carries RequestedWith (a request with the
// admin token needs none: a browser does not send it on its own). A
// cross-site form cannot send a header, and a cross-site script cannot send
// this one without a CORS preflight, so the header shows that the request
// came from a page of an allowed origin, not from another site riding on
// the cookie.
func csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if r.Header.Get(echo.HeaderAuthorization) != "" || r.Header.Get(RequestedWith) != "" {
			return next(c)
		}
		if _, err := r.Cookie(session.Cookie); err == nil || r.URL.Path == "/api/v1/sessions" {
			return ErrCSRF
		}
		return next(c)
	}
}
