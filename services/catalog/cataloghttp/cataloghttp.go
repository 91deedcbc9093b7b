// Package cataloghttp carries the catalog Service over HTTP: NewHandler
// serves a Service, NewClient is a Service that calls one.
package cataloghttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/catalog"
)

var errs = rest.Errors{
	{Err: catalog.ErrNotFound, Code: "product_not_found"},
	{Err: catalog.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: the catalog is public.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/products", Access: rest.Public},
	{Method: http.MethodGet, Path: "/products/:id", Access: rest.Public},
	{Method: http.MethodPut, Path: "/products/:id/price", Access: rest.Internal},
}

// NewHandler serves svc:
//
//	GET /products?ids=p001,p002          batch read
//	GET /products?category=&q=&limit=&cursor=   listing
//	GET /products/{id}
//	PUT /products/{id}/price           {"price_cents": 1999}
func NewHandler(svc catalog.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		batch := rest.ByIDs(catalog.ValidID, svc.Products)
		e.GET("/products", func(c echo.Context) error {
			if c.QueryParams().Has("ids") {
				return batch(c)
			}
			limit, err := rest.Limit(c, catalog.DefaultLimit, catalog.MaxLimit)
			if err != nil {
				return err
			}
			page, err := svc.List(c.Request().Context(), catalog.ListQuery{
				Category: c.QueryParam("category"), Q: c.QueryParam("q"),
				Limit: limit, Cursor: c.QueryParam("cursor"),
			})
			return rest.Reply(c, http.StatusOK, page, err)
		})
		e.GET("/products/:id", rest.ByParam("id", catalog.ValidID, svc.Product))
		e.PUT("/products/:id/price", rest.WithBody(http.StatusOK, func(c echo.Context, b price) (catalog.Product, error) {
			return svc.SetPrice(c.Request().Context(), c.Param("id"), b.PriceCents)
		}))
	})
}

type price struct {
	PriceCents int64 `json:"price_cents"`
}

type client struct{ c *rest.Client }

// NewClient returns a catalog.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) catalog.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Product(ctx context.Context, id string) (catalog.Product, error) {
	return rest.Get[catalog.Product](ctx, c.c, "/products/"+url.PathEscape(id), nil)
}

func (c client) Products(ctx context.Context, ids []string) ([]catalog.Product, error) {
	return rest.GetBatch[catalog.Product](ctx, c.c, "/products", "ids", ids)
}

func (c client) List(ctx context.Context, q catalog.ListQuery) (catalog.Page, error) {
	v := url.Values{}
	if q.Category != "" {
		v.Set("category", q.Category)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return rest.Get[catalog.Page](ctx, c.c, "/products", v)
}

func (c client) SetPrice(ctx context.Context, id string, cents int64) (catalog.Product, error) {
	return rest.Send[catalog.Product](ctx, c.c, http.MethodPut, "/products/"+url.PathEscape(id)+"/price", price{cents})
}
