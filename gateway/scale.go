package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services"
)

// Scale runs replicas instances of service and returns how many ran
// before: atrium up's, which runs the services as its children.
type Scale func(ctx context.Context, service string, replicas int) (was int, err error)

// ErrNotScalable is a service whose instances cannot be counted up or down
// (a partitioned one: its instances are its partitions').
var ErrNotScalable = domain.New(domain.Conflict, "not scalable")

// Replicas is the answer of a scaling.
type Replicas struct {
	Service  string `json:"service"`
	Replicas int    `json:"replicas"`
	Was      int    `json:"was"`
}

// scaleRoutes serves PUT /admin/services/{name}/replicas {"replicas":3} on
// the admin group: scale is nil on a gateway that does not run its
// services.
func scaleRoutes(admin *echo.Group, scale Scale) {
	admin.PUT("/services/:name/replicas", func(c echo.Context) error {
		name := c.Param("name")
		if !slices.Contains(services.Names, name) {
			return problem.Newf(http.StatusNotFound, "no_service", "no service %q", name)
		}
		var body struct {
			Replicas int `json:"replicas"`
		}
		if err := rest.Bind(c, &body); err != nil {
			return err
		}
		if body.Replicas < 1 || body.Replicas > 32 {
			return problem.Newf(http.StatusBadRequest, "invalid", "replicas must be 1 to 32, got %d", body.Replicas)
		}
		if scale == nil {
			return problem.New(http.StatusConflict, "not_supervised", "this gateway does not run its services: only atrium up can start and stop them")
		}
		was, err := scale(c.Request().Context(), name, body.Replicas)
		if errors.Is(err, ErrNotScalable) {
			return problem.New(http.StatusConflict, "not_scalable", err.Error())
		}
		return rest.Reply(c, http.StatusOK, Replicas{Service: name, Replicas: body.Replicas, Was: was}, err)
	})
}
