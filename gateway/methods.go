package gateway

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/problem"
)

// headKey marks a HEAD request routed as a GET.
const headKey = "atrium.head"

// headAsGet routes a HEAD request to the GET of its route (echo routes the
// request's own method, before Use middleware). headRestored makes it a
// HEAD again before the handler, so that net/http sends the GET's headers
// (its Content-Length too) and drops its body.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			r.Method = http.MethodGet
			c.Set(headKey, r)
		}
		return next(c)
	}
}

// headRestored makes the request a HEAD again: the one net/http holds
// (which decides whether the answer has a body), and the copy a middleware
// may have put in its place.
func headRestored(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r, ok := c.Get(headKey).(*http.Request); ok {
			r.Method = http.MethodHead
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}

// methodNotAllowed answers a request for a route the gateway has, with a
// method it does not take, with a 405 and Allow, where echo's router (its
// groups' catch-all routes in the way) says 404.
func methodNotAllowed(e *echo.Echo) echo.MiddlewareFunc {
	var (
		once   sync.Once
		routes []*echo.Route
	)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if !errors.Is(err, echo.ErrNotFound) {
				return err
			}
			once.Do(func() { routes = e.Routes() }) // every route is added before the first request
			path := c.Request().URL.Path
			allow := allowed(routes, path)
			if len(allow) == 0 {
				return err
			}
			c.Response().Header().Set("Allow", strings.Join(allow, ", "))
			return problem.Newf(http.StatusMethodNotAllowed, "method_not_allowed", "%s does not take %s; it takes %s",
				path, c.Request().Method, strings.Join(allow, ", "))
		}
	}
}

// allowed lists the methods of the routes whose pattern path matches,
// HEAD with GET.
func allowed(routes []*echo.Route, path string) []string {
	var out []string
	for _, r := range routes {
		if !slices.Contains(methods, r.Method) || !routeMatches(r.Path, path) || slices.Contains(out, r.Method) {
			continue
		}
		out = append(out, r.Method)
		if r.Method == http.MethodGet && !slices.Contains(out, http.MethodHead) {
			out = append(out, http.MethodHead)
		}
	}
	slices.Sort(out)
	return out
}

// methods are the methods a route may be added with.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// routeMatches reports whether path is one of an echo route pattern's:
// ":name" for one segment, a trailing "*" for the rest.
func routeMatches(pattern, path string) bool {
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		switch {
		case p == "*" && i == len(ps)-1:
			return true
		case i >= len(ss):
			return false
		case strings.HasPrefix(p, ":"):
			if ss[i] == "" {
				return false
			}
		case p != ss[i]:
			return false
		}
	}
	return len(ps) == len(ss)
}
