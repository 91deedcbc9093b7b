package orchestration

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/services/catalog"
)

// Routes adds the composite endpoints to g, the /api/v1 group:
//
//	GET /products/{id}/page
func (c *Composer) Routes(g *echo.Group) {
	g.GET("/products/:id/page", func(e echo.Context) error {
		id := e.Param("id")
		if !catalog.ValidID(id) {
			return problem.Newf(http.StatusBadRequest, "invalid", "malformed product id %q: want p and 3 to 8 digits", id)
		}
		start := time.Now()
		page, err := c.ProductPage(e.Request().Context(), id)
		if err != nil {
			return err
		}
		e.Response().Header().Set("Server-Timing", ServerTiming(page.Meta, time.Since(start)))
		return e.JSON(http.StatusOK, page)
	})
}

// Problem maps a composite's error to its problem: a missing primary entity
// stays a 404; a failed required source is a 504 when it timed out, a 503
// when its circuit is open, and a 502 otherwise. It returns nil for errors
// that are not a composite's.
func Problem(err error) *problem.Problem {
	if errors.Is(err, catalog.ErrNotFound) {
		return problem.New(http.StatusNotFound, "product_not_found", err.Error())
	}
	var se *SourceError
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Status {
	case StatusTimeout:
		return problem.New(http.StatusGatewayTimeout, "source_timeout", se.Error())
	case StatusCircuitOpen:
		return problem.New(http.StatusServiceUnavailable, "source_circuit_open", se.Error())
	}
	return problem.New(http.StatusBadGateway, "source_failed", se.Error())
}
