// Package paymentshttp carries the payments Service over HTTP: NewHandler
// serves a Service, NewClient is a Service that calls one.
package paymentshttp

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/payments"
)

var errs = rest.Errors{
	{Err: payments.ErrNotFound, Code: "charge_not_found"},
	{Err: payments.ErrDeclined, Code: "payment_declined"},
	{Err: payments.ErrInvalid, Code: "invalid"},
}

// Surface is who may call each route from outside: none; charges and
// refunds are the checkout's.
var Surface = rest.Surface{
	{Method: http.MethodPost, Path: "/charges", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/charges/:id", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/charges", Access: rest.Internal},
	{Method: http.MethodPost, Path: "/charges/:id/refund", Access: rest.Internal},
}

// NewHandler serves svc:
//
//	POST /charges                a ChargeRequest; 201 with the Charge
//	GET  /charges/{id}
//	GET  /charges?idempotency_key=K
//	GET  /charges?status=succeeded&before=2026-12-01T10:00:00Z&limit=100
//	POST /charges/{id}/refund
func NewHandler(svc payments.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.POST("/charges", rest.WithBody(http.StatusCreated, func(c echo.Context, req payments.ChargeRequest) (payments.Charge, error) {
			return svc.Charge(c.Request().Context(), req)
		}))
		e.GET("/charges/:id", rest.ByParam("id", payments.ValidID, svc.Get))
		e.GET("/charges", func(c echo.Context) error {
			if c.QueryParam("status") == "" {
				ch, err := svc.ByKey(c.Request().Context(), c.QueryParam("idempotency_key"))
				return rest.Reply(c, http.StatusOK, ch, err)
			}
			before, limit, err := rest.Listing(c, payments.StatusSucceeded)
			if err != nil {
				return err
			}
			list, err := svc.Succeeded(c.Request().Context(), before, limit)
			return rest.Reply(c, http.StatusOK, list, err)
		})
		e.POST("/charges/:id/refund", rest.ByParam("id", payments.ValidID, svc.Refund))
	})
}

type client struct{ c *rest.Client }

// NewClient returns a payments.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) payments.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	return rest.Send[payments.Charge](ctx, c.c, http.MethodPost, "/charges", req)
}

func (c client) Refund(ctx context.Context, id string) (payments.Charge, error) {
	return rest.Send[payments.Charge](ctx, c.c, http.MethodPost, "/charges/"+url.PathEscape(id)+"/refund", nil)
}

func (c client) ByKey(ctx context.Context, key string) (payments.Charge, error) {
	return rest.Get[payments.Charge](ctx, c.c, "/charges", url.Values{"idempotency_key": {key}})
}

func (c client) Get(ctx context.Context, id string) (payments.Charge, error) {
	return rest.Get[payments.Charge](ctx, c.c, "/charges/"+url.PathEscape(id), nil)
}

func (c client) Succeeded(ctx context.Context, before time.Time, limit int) ([]payments.Charge, error) {
	return rest.Get[[]payments.Charge](ctx, c.c, "/charges", rest.ListingQuery(payments.StatusSucceeded, before, limit))
}
