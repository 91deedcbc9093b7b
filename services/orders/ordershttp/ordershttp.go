// Package ordershttp carries the orders Service over HTTP: NewHandler serves
// a Service, NewClient is a Service that calls one.
package ordershttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

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
	{Method: http.MethodGet, Path: "/orders/recent", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/orders/:id", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/orders", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/users/:user/orders", Access: rest.Owner},
}

// NewHandler serves svc:
//
//	POST /orders                      a NewOrder; 201 with the Order
//	GET  /orders/recent?since=2026-12-02T15:00:00Z&limit=20   (since: an hour ago by default)
//	GET  /orders/{id}
//	GET  /orders?idempotency_key=K
//	GET  /users/{user}/orders?limit=5
func NewHandler(svc orders.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.POST("/orders", rest.WithBody(http.StatusCreated, func(c echo.Context, o orders.NewOrder) (orders.Order, error) {
			return svc.Create(c.Request().Context(), o)
		}))
		e.GET("/orders/recent", func(c echo.Context) error {
			since := time.Now().Add(-time.Hour)
			if v := c.QueryParam("since"); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return fmt.Errorf("since %q: want an RFC 3339 time such as 2026-12-02T15:00:00Z: %w", v, orders.ErrInvalid)
				}
				since = t
			}
			limit, err := rest.Limit(c, orders.DefaultLimit, orders.MaxLimit)
			if err != nil {
				return err
			}
			rec, err := svc.Since(c.Request().Context(), since, limit)
			return rest.Reply(c, http.StatusOK, rec, err)
		})
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

func (c client) Since(ctx context.Context, since time.Time, limit int) (orders.Recent, error) {
	return rest.Get[orders.Recent](ctx, c.c, "/orders/recent", url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(limit)}})
}
