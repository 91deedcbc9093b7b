// Package inventoryhttp carries the inventory Service over HTTP: NewHandler
// serves a Service, NewClient is a Service that calls one.
package inventoryhttp

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/inventory"
)

var errs = rest.Errors{
	{Err: inventory.ErrNotFound, Code: "not_in_inventory"},
	{Err: inventory.ErrInsufficientStock, Code: "insufficient_stock"},
	{Err: inventory.ErrNotHeld, Code: "reservation_not_held"},
	{Err: inventory.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: stock levels are
// public; reservations are the checkout's, service-to-service.
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/stock", Access: rest.Public},
	{Method: http.MethodGet, Path: "/stock/:id", Access: rest.Public},
	{Method: http.MethodPost, Path: "/reservations", Access: rest.Internal},
	{Method: http.MethodPost, Path: "/reservations/:id/commit", Access: rest.Internal},
	{Method: http.MethodDelete, Path: "/reservations/:id", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/reservations", Access: rest.Internal},
}

// NewHandler serves svc:
//
//	GET    /stock?ids=p001,p002
//	GET    /stock/{product_id}
//	POST   /reservations            {"lines":[{"product_id":"p001","quantity":2}],"idempotency_key":"k1"}
//	POST   /reservations/{id}/commit
//	DELETE /reservations/{id}       release
//	GET    /reservations?status=committed&before=2026-12-01T10:00:00Z&limit=100
func NewHandler(svc inventory.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/stock", rest.ByIDs(inventory.ValidProductID, svc.Stocks))
		e.GET("/stock/:id", rest.ByParam("id", inventory.ValidProductID, svc.Stock))
		e.POST("/reservations", rest.WithBody(http.StatusCreated, func(c echo.Context, req inventory.ReserveRequest) (inventory.Reservation, error) {
			return svc.Reserve(c.Request().Context(), req)
		}))
		e.POST("/reservations/:id/commit", rest.ByParam("id", inventory.ValidReservationID, svc.Commit))
		e.DELETE("/reservations/:id", rest.ByParam("id", inventory.ValidReservationID, svc.Release))
		e.GET("/reservations", func(c echo.Context) error {
			before, limit, err := rest.Listing(c, inventory.StatusCommitted)
			if err != nil {
				return err
			}
			list, err := svc.Committed(c.Request().Context(), before, limit)
			return rest.Reply(c, http.StatusOK, list, err)
		})
	})
}

type client struct{ c *rest.Client }

// NewClient returns an inventory.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) inventory.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Stock(ctx context.Context, id string) (inventory.Stock, error) {
	return rest.Get[inventory.Stock](ctx, c.c, "/stock/"+url.PathEscape(id), nil)
}

func (c client) Stocks(ctx context.Context, ids []string) ([]inventory.Stock, error) {
	return rest.GetBatch[inventory.Stock](ctx, c.c, "/stock", "ids", ids)
}

func (c client) Reserve(ctx context.Context, req inventory.ReserveRequest) (inventory.Reservation, error) {
	return rest.Send[inventory.Reservation](ctx, c.c, http.MethodPost, "/reservations", req)
}

func (c client) Commit(ctx context.Context, id string) (inventory.Reservation, error) {
	return rest.Send[inventory.Reservation](ctx, c.c, http.MethodPost, "/reservations/"+url.PathEscape(id)+"/commit", nil)
}

func (c client) Release(ctx context.Context, id string) (inventory.Reservation, error) {
	return rest.Send[inventory.Reservation](ctx, c.c, http.MethodDelete, "/reservations/"+url.PathEscape(id), nil)
}

func (c client) Committed(ctx context.Context, before time.Time, limit int) ([]inventory.Reservation, error) {
	return rest.Get[[]inventory.Reservation](ctx, c.c, "/reservations", rest.ListingQuery(inventory.StatusCommitted, before, limit))
}
