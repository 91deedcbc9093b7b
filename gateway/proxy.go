package gateway

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/internal/problem"
)

// NewProxy returns the API proxy's upstream for a service whose instances
// transport reaches by name (a *balance.Transport). The proxy strips
// hop-by-hop headers, sets X-Forwarded-For/-Host/-Proto, and answers a
// failure as a problem: 503 when the service has no live instance, 504 when
// the instance timed out, 502 otherwise.
func NewProxy(service string, transport http.RoundTripper, logger *slog.Logger) http.Handler {
	target := &url.URL{Scheme: "http", Host: service}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			// SetURL joined the target's empty path: keep the incoming one.
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p := proxyProblem(service, err)
			if p.Status == http.StatusBadGateway && logger != nil {
				logger.Warn("proxy error", "service", service, "err", err)
			}
			p.Instance = r.URL.Path
			p.RequestID = r.Header.Get("X-Request-Id")
			problem.Write(w, p)
		},
	}
}

func proxyProblem(service string, err error) *problem.Problem {
	switch {
	case errors.Is(err, balance.ErrNoInstance):
		return problem.Newf(http.StatusServiceUnavailable, "no_instance", "service %s has no live instance", service)
	case errors.Is(err, context.DeadlineExceeded):
		return problem.Newf(http.StatusGatewayTimeout, "upstream_timeout", "service %s did not answer in time", service)
	}
	return problem.Newf(http.StatusBadGateway, "upstream_failed", "service %s failed: %v", service, err)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
