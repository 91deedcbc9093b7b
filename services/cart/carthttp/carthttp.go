// Package carthttp carries the cart Service over HTTP: NewHandler serves a
// Service, NewClient is a Service that calls one.
package carthttp

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/cart"
)

var errs = rest.Errors{
	{Err: cart.ErrNotFound, Code: "item_not_in_cart"},
	{Err: cart.ErrFull, Code: "cart_full"},
	{Err: cart.ErrInvalid, Code: "invalid"},
}

type quantity struct {
	Quantity int `json:"quantity"`
}

// Surface is who may call each route from outside: a user may read their
// own cart; changes go through the gateway's /api/v1 cart routes, which check
// the catalog and the stock.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/carts/:user", Access: rest.Owner},
	{Method: http.MethodDelete, Path: "/carts/:user", Access: rest.Internal},
	{Method: http.MethodPut, Path: "/carts/:user/items/:product", Access: rest.Internal},
	{Method: http.MethodDelete, Path: "/carts/:user/items/:product", Access: rest.Internal},
}

// NewHandler serves svc:
//
//	GET    /carts/{user}
//	PUT    /carts/{user}/items/{product}   {"quantity": 2}
//	DELETE /carts/{user}/items/{product}
//	DELETE /carts/{user}
func NewHandler(svc cart.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/carts/:user", rest.ByParam("user", cart.ValidUserID, svc.Cart))
		e.DELETE("/carts/:user", rest.ByParam("user", cart.ValidUserID, svc.Clear))
		e.PUT("/carts/:user/items/:product", rest.WithBody(http.StatusOK, func(c echo.Context, q quantity) (cart.Cart, error) {
			return svc.SetItem(c.Request().Context(), c.Param("user"), cart.Item{ProductID: c.Param("product"), Quantity: q.Quantity})
		}))
		e.DELETE("/carts/:user/items/:product", func(c echo.Context) error {
			ct, err := svc.RemoveItem(c.Request().Context(), c.Param("user"), c.Param("product"))
			return rest.Reply(c, http.StatusOK, ct, err)
		})
	})
}

type client struct{ c *rest.Client }

// NewClient returns a cart.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) cart.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func cartPath(user string) string { return "/carts/" + url.PathEscape(user) }

func itemPath(user, product string) string {
	return cartPath(user) + "/items/" + url.PathEscape(product)
}

func (c client) Cart(ctx context.Context, user string) (cart.Cart, error) {
	return rest.Get[cart.Cart](ctx, c.c, cartPath(user), nil)
}

func (c client) SetItem(ctx context.Context, user string, it cart.Item) (cart.Cart, error) {
	return rest.Send[cart.Cart](ctx, c.c, http.MethodPut, itemPath(user, it.ProductID), quantity{it.Quantity})
}

func (c client) RemoveItem(ctx context.Context, user, product string) (cart.Cart, error) {
	return rest.Send[cart.Cart](ctx, c.c, http.MethodDelete, itemPath(user, product), nil)
}

func (c client) Clear(ctx context.Context, user string) (cart.Cart, error) {
	return rest.Send[cart.Cart](ctx, c.c, http.MethodDelete, cartPath(user), nil)
}
