// Package searchhttp carries the search Service over HTTP: NewHandler
// serves a Service, NewClient is a Service that calls one.
package searchhttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/search"
)

var errs = rest.Errors{
	{Err: search.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: search is public, as
// the catalog is.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/search", Access: rest.Public},
}

// NewHandler serves svc:
//
//	GET /search?q=river+guide&limit=10
func NewHandler(svc search.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/search", func(c echo.Context) error {
			limit, err := rest.Limit(c, search.DefaultLimit, search.MaxLimit)
			if err != nil {
				return err
			}
			res, err := svc.Query(c.Request().Context(), c.QueryParam("q"), limit)
			return rest.Reply(c, http.StatusOK, res, err)
		})
	})
}

type client struct{ c *rest.Client }

// NewClient returns a search.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) search.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Query(ctx context.Context, q string, limit int) (search.Results, error) {
	return rest.Get[search.Results](ctx, c.c, "/search", url.Values{"q": {q}, "limit": {strconv.Itoa(limit)}})
}
