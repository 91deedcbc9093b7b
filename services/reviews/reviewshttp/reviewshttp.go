// Package reviewshttp carries the reviews Service over HTTP: NewHandler
// serves a Service, NewClient is a Service that calls one.
package reviewshttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/reviews"
)

var errs = rest.Errors{
	{Err: reviews.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: reviews are public.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/products/:id/reviews", Access: rest.Public},
	{Method: http.MethodGet, Path: "/products/:id/summary", Access: rest.Public},
	{Method: http.MethodGet, Path: "/summaries", Access: rest.Public},
}

// NewHandler serves svc:
//
//	GET /products/{id}/reviews?limit=3
//	GET /products/{id}/summary
//	GET /summaries?ids=p001,p002
func NewHandler(svc reviews.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/products/:id/reviews", rest.ByParamLimit("id", reviews.ValidProductID, reviews.DefaultLimit, reviews.MaxLimit, svc.Top))
		e.GET("/products/:id/summary", rest.ByParam("id", reviews.ValidProductID, svc.Summary))
		e.GET("/summaries", rest.ByIDs(reviews.ValidProductID, svc.Summaries))
	})
}

type client struct{ c *rest.Client }

// NewClient returns a reviews.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) reviews.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Top(ctx context.Context, id string, limit int) ([]reviews.Review, error) {
	return rest.Get[[]reviews.Review](ctx, c.c, "/products/"+url.PathEscape(id)+"/reviews", url.Values{"limit": {strconv.Itoa(limit)}})
}

func (c client) Summary(ctx context.Context, id string) (reviews.Summary, error) {
	return rest.Get[reviews.Summary](ctx, c.c, "/products/"+url.PathEscape(id)+"/summary", nil)
}

func (c client) Summaries(ctx context.Context, ids []string) ([]reviews.Summary, error) {
	return rest.GetBatch[reviews.Summary](ctx, c.c, "/summaries", "ids", ids)
}
