package gateway

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
)

// compressMin is the smallest answer worth compressing: below it the gzip
// header and the CPU cost more than they save.
const compressMin = 1024

// compress gzips the answers of clients that accept it: JSON, the spec,
// the docs page's assets. It leaves alone what must reach the client as
// it is written (an order's event stream) and what has no body (HEAD).
//
// It is klauspost/compress's gzhttp rather than echo's middleware (the
// standard library's gzip): under product pages at capacity, gzip was 12%
// of the gateway's CPU, most of it building the standard encoder's tables
// anew for each 2 KB answer; gzhttp's level-1 encoder does far less.
func compress() echo.MiddlewareFunc {
	// gzip alone, as before (gzhttp would answer zstd to the browsers that
	// ask for it), and request bodies are never inflated (no gzip bombs).
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMin), gzhttp.CompressionLevel(gzip.BestSpeed),
		gzhttp.EnableZstd(false), gzhttp.AllowCompressedRequests(false))
	if err != nil {
		panic(err) // the options are constants
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method == http.MethodHead || strings.HasSuffix(r.URL.Path, "/events") || exempt(r.URL.Path) {
				return next(c)
			}
			// An error goes on up, to be answered by the middleware above
			// (uncompressed: problems are small) once the compressor, which
			// wrote nothing, is gone.
			res := c.Response()
			plain := res.Writer
			var err error
			wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res.Writer = w
				c.SetRequest(r)
				err = next(c)
			})).ServeHTTP(plain, r)
			res.Writer = plain
			return err
		}
	}
}
