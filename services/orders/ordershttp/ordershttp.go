// Package ordershttp carries the orders Service over HTTP: NewHandler serves
// a Service, NewClient is a Service that calls one.
package ordershttp

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/orders"
)

var errs = rest.Errors{
	{Err: orders.ErrNotFound, Code: "order_not_found"},
	{Err: orders.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: a user may list their
// own orders; the rest is the checkout's.
var Surface = rest.Surface{
	{Method: http.MethodPost, Path: "/orders", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/orders/:id", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/orders", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/users/:user/orders", Access: rest.Owner},
}

// NewHandler serves svc:
//
//	POST /orders                      a NewOrder; 201 with the Order
//	GET  /orders/{id}
//	GET  /orders?idempotency_key=K
//	GET  /users/{user}/orders?limit=5
func NewHandler(svc orders.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.POST("/orders", rest.WithBody(http.StatusCreated, func(c echo.Context, o orders.NewOrder) (orders.Order, error) {
			return svc.Create(c.Request().Context(), o)
		}))
		e.GET("/orders/:id", rest.ByParam("id", orders.ValidID, svc.Order))
		e.GET("/orders", func(c echo.Context) error {
			o, err := svc.ByKey(c.Request().Context(), c.QueryParam("idempotency_key"))
			return rest.Reply(c, http.StatusOK, o, err)
		})
		e.GET("/users/:user/orders", rest.ByParamLimit("user", orders.ValidUserID, orders.DefaultLimit, orders.MaxLimit, svc.ByUser))
	})
}

type client struct{ c *rest.Client }

// NewClient returns an orders.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) orders.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Create(ctx context.Context, o orders.NewOrder) (orders.Order, error) {
	return rest.Send[orders.Order](ctx, c.c, http.MethodPost, "/orders", o)
}

func (c client) Order(ctx context.Context, id string) (orders.Order, error) {
	return rest.Get[orders.Order](ctx, c.c, "/orders/"+url.PathEscape(id), nil)
}

func (c client) ByKey(ctx context.Context, key string) (orders.Order, error) {
	return rest.Get[orders.Order](ctx, c.c, "/orders", url.Values{"idempotency_key": {key}})
}

func (c client) ByUser(ctx context.Context, user string, limit int) ([]orders.Order, error) {
	return rest.Get[[]orders.Order](ctx, c.c, "/users/"+url.PathEscape(user)+"/orders", url.Values{"limit": {strconv.Itoa(limit)}})
}
