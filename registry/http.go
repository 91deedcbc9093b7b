package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
)

var errs = rest.Errors{
	{Err: ErrNotFound, Code: "instance_not_registered"},
	{Err: ErrInvalid, Code: "invalid_instance"},
}

// Problem maps the registry's errors to problems, for the gateway's error handler.
var Problem = errs.Problem

// Authorize admits a request to the registry API that acts for instances
// of service: a registration or deregistration needs the admin credential
// or that service's own; service "" (listing every instance) needs the
// admin credential; service AnyService needs either kind.
type Authorize func(c echo.Context, service string) error

// AnyService asks Authorize for any credential at all: the deregistration
// of an instance that is not registered (any more) reveals nothing.
const AnyService = "*"

// Routes adds the registry API to g, each request admitted by auth:
//
//	GET    {g}/instances[?service=name]    admin
//	PUT    {g}/instances/{id}    register or renew; the body is the Instance: admin or the service's credential
//	DELETE {g}/instances/{id}    deregister: admin or the service's credential
//
// so that a service's credential registers only instances of that service.
func Routes(g *echo.Group, r Engine, auth Authorize) {
	g.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := auth(c, AnyService); err != nil { // no credential at all: refused before the body is read
				return err
			}
			return next(c)
		}
	})
	g.GET("/instances", func(c echo.Context) error {
		if err := auth(c, ""); err != nil {
			return err
		}
		if s := c.QueryParam("service"); s != "" {
			return c.JSON(http.StatusOK, nonNil(r.Instances(s)))
		}
		return c.JSON(http.StatusOK, r.All())
	})
	g.PUT("/instances/:id", rest.WithBody(http.StatusOK, func(c echo.Context, inst Instance) (Instance, error) {
		if err := auth(c, inst.Service); err != nil {
			return Instance{}, err
		}
		if old, ok := r.Service(inst.ID); ok && old != inst.Service {
			if err := auth(c, old); err != nil { // moving an instance to another service takes both
				return Instance{}, err
			}
		}
		if inst.ID != c.Param("id") {
			return Instance{}, fmt.Errorf("body id %q differs from path id %q: %w", inst.ID, c.Param("id"), ErrInvalid)
		}
		return inst, r.Register(c.Request().Context(), inst)
	}))
	g.DELETE("/instances/:id", func(c echo.Context) error {
		service, ok := r.Service(c.Param("id"))
		if !ok {
			service = AnyService
		}
		if err := auth(c, service); err != nil {
			return err
		}
		if err := r.Deregister(c.Request().Context(), c.Param("id")); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
}

func nonNil(s []Instance) []Instance {
	if s == nil {
		return []Instance{}
	}
	return s
}

// Client registers instances with a remote registry's API.
type Client struct{ e *rest.Edge }

// NewClient returns a client of the registry API under baseURL (such as
// "http://127.0.0.1:8080/admin/registry"), authenticating with token.
func NewClient(baseURL, token string) *Client {
	return &Client{rest.NewEdge(baseURL, errs, token)}
}

// Register registers or renews inst.
func (c *Client) Register(ctx context.Context, inst Instance) error {
	return c.e.Call(ctx, http.MethodPut, "/instances/"+url.PathEscape(inst.ID), nil, inst, nil)
}

// Deregister removes the instance id.
func (c *Client) Deregister(ctx context.Context, id string) error {
	return c.e.Call(ctx, http.MethodDelete, "/instances/"+url.PathEscape(id), nil, nil, nil)
}

// Instances lists the instances of service ("" for all).
func (c *Client) Instances(ctx context.Context, service string) ([]Instance, error) {
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	var out []Instance
	return out, c.e.Call(ctx, http.MethodGet, "/instances", q, nil, &out)
}
