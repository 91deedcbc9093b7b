package fault

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
)

// Report is what the faults API answers: a service's faults and the calls
// each of its instances has seen.
type Report struct {
	Service   string           `json:"service"`
	Faults    Faults           `json:"faults"`
	Instances []InstanceReport `json:"instances"`
	// Unreachable lists the instances of the registry that did not answer
	// (one that died, until the registry forgets it).
	Unreachable []string `json:"unreachable,omitempty"`
}

// InstanceReport is one instance's part of a Report.
type InstanceReport struct {
	ID    string `json:"id"`
	Calls int64  `json:"calls"`
}

var errs = rest.Errors{{Err: ErrInvalid, Code: "invalid_faults"}, {Err: ErrUnknownService, Code: "unknown_service"}}

// Problem maps this package's errors to problems.
var Problem = errs.Problem

// Routes serves one injector at g (guarded by the caller), as instance id:
//
//	GET    {g}   the faults and the calls seen
//	PUT    {g}   set faults: {"latency_ms":200,"error_rate":0.5,"crash":false}
//	DELETE {g}   clear them
func Routes(g *echo.Group, id string, in *Injector) {
	report := func(c echo.Context) error {
		return c.JSON(http.StatusOK, InstanceFaults{ID: id, Faults: in.Get(), Calls: in.Calls()})
	}
	g.GET("", report)
	g.PUT("", func(c echo.Context) error {
		var f Faults
		if err := rest.Bind(c, &f); err != nil {
			return err
		}
		if err := in.Set(f); err != nil {
			return err
		}
		return report(c)
	})
	g.DELETE("", func(c echo.Context) error {
		in.Set(Faults{})
		return report(c)
	})
}

// InstanceFaults is what one service instance's faults API answers.
type InstanceFaults struct {
	ID     string `json:"id"`
	Faults Faults `json:"faults"`
	Calls  int64  `json:"calls"`
}

// Client calls one service instance's faults API.
type Client struct{ e *rest.Edge }

// NewClient returns a client of the faults API at url (such as
// "http://127.0.0.1:41234/admin/faults"), with the service's credential.
func NewClient(url, token string) *Client {
	return &Client{rest.NewEdge(url, errs, token)}
}

// Set sets the instance's faults; nil clears them.
func (c *Client) Set(ctx context.Context, f *Faults) (InstanceFaults, error) {
	var out InstanceFaults
	if f == nil {
		return out, c.e.Call(ctx, http.MethodDelete, "", nil, nil, &out)
	}
	return out, c.e.Call(ctx, http.MethodPut, "", nil, f, &out)
}

// Get returns the instance's faults.
func (c *Client) Get(ctx context.Context) (InstanceFaults, error) {
	var out InstanceFaults
	return out, c.e.Call(ctx, http.MethodGet, "", nil, nil, &out)
}
