// Package recommendationshttp carries the recommendations Service over HTTP:
// NewHandler serves a Service, NewClient is a Service that calls one.
package recommendationshttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/recommendations"
)

var errs = rest.Errors{
	{Err: recommendations.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: recommendations are
// public.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/products/:id/recommendations", Access: rest.Public},
}

// NewHandler serves svc:
//
//	GET /products/{id}/recommendations?limit=4
func NewHandler(svc recommendations.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/products/:id/recommendations", rest.ByParamLimit("id", recommendations.ValidProductID, recommendations.DefaultLimit, recommendations.MaxLimit, svc.ForProduct))
	})
}

type client struct{ c *rest.Client }

// NewClient returns a recommendations.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) recommendations.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) ForProduct(ctx context.Context, id string, limit int) ([]recommendations.Recommendation, error) {
	return rest.Get[[]recommendations.Recommendation](ctx, c.c, "/products/"+url.PathEscape(id)+"/recommendations", url.Values{"limit": {strconv.Itoa(limit)}})
}
