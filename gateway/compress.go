package gateway

import (
	"compress/gzip"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// compressMin is the smallest answer worth compressing: below it the gzip
// header and the CPU cost more than they save.
const compressMin = 1024

// compress gzips the answers of clients that accept it: JSON, the spec,
// the docs page's assets. It leaves alone what must reach the client as
// it is written (an order's event stream) and what has no body (HEAD).
func compress() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{
		Level:     gzip.BestSpeed, // a 2 KB page: most of the saving for a third of the default level's CPU
		MinLength: compressMin,
		Skipper: func(c echo.Context) bool {
			r := c.Request()
			return r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/events") || exempt(r.URL.Path)
		},
	})
}
