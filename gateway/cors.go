package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// Headers a browser frontend on another origin may send, and read.
var (
	corsAllowHeaders  = []string{echo.HeaderContentType, echo.HeaderAuthorization, RequestedWith, "Idempotency-Key", "Last-Event-ID", "X-Request-Id", "Traceparent"}
	corsExposeHeaders = []string{echo.HeaderXRequestID, "X-Trace-Id", "Server-Timing", "Idempotent-Replayed", "Link", echo.HeaderLocation, "Retry-After", "X-Atrium-Instance"}
	corsMethods       = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
)

// corsMaxAge is how long a browser may keep a preflight's answer.
const corsMaxAge = 10 * 60

// cors lets browser frontends on origins read the gateway's answers with
// their credentials (the session cookie). It runs before routing, so that a
// preflight is answered for every route, those that need a session
// included (a preflight carries no cookie); a request from any other
// origin gets no CORS header, which the browser refuses.
func cors(origins []string) echo.MiddlewareFunc {
	allowHeaders, exposeHeaders := strings.Join(corsAllowHeaders, ", "), strings.Join(corsExposeHeaders, ", ")
	methods := strings.Join(corsMethods, ", ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req, h := c.Request(), c.Response().Header()
			origin := req.Header.Get(echo.HeaderOrigin)
			if origin == "" {
				return next(c)
			}
			h.Add(echo.HeaderVary, echo.HeaderOrigin)
			allowed := slices.Contains(origins, origin)
			preflight := req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != ""
			if preflight {
				h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestMethod)
				h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
				if allowed {
					h.Set(echo.HeaderAccessControlAllowOrigin, origin)
					h.Set(echo.HeaderAccessControlAllowCredentials, "true")
					h.Set(echo.HeaderAccessControlAllowMethods, methods)
					h.Set(echo.HeaderAccessControlAllowHeaders, allowHeaders)
					h.Set(echo.HeaderAccessControlMaxAge, strconv.Itoa(corsMaxAge))
				}
				return c.NoContent(http.StatusNoContent)
			}
			if allowed {
				h.Set(echo.HeaderAccessControlAllowOrigin, origin)
				h.Set(echo.HeaderAccessControlAllowCredentials, "true")
				h.Set(echo.HeaderAccessControlExposeHeaders, exposeHeaders)
			}
			return next(c)
		}
	}
}
