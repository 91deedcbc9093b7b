package compare

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/internal/server"
)

// FloorProxy is the least a Go proxy does in front of the catalog instance
// at upstream (host:port): net/http's httputil.ReverseProxy, the path
// /services/catalog cut and the service's credential set (when token is
// not ""), over keep-alive connections, its copy buffers pooled, and
// nothing else — no routing table, limits, telemetry or logs. The proxy
// scenario (GoProxy) and gateway's BenchmarkProxy measure it beside
// atrium's proxy, as the floor of any proxy built on net/http.
func FloorProxy(upstream, token string) http.Handler {
	target := &url.URL{Scheme: "http", Host: upstream}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/services/catalog")
			r.Out.URL.RawPath = ""
			if token != "" {
				r.Out.Header["Authorization"] = []string{"Bearer " + token}
			}
		},
		Transport:  transport,
		BufferPool: gateway.NewBufferPool(), // as any tuned Go proxy: no 32 KiB buffer per request
	}
}

// GoProxy serves FloorProxy on ln, under /services/catalog/, until ctx
// ends.
func GoProxy(ctx context.Context, ln net.Listener, upstream, token string) error {
	mux := http.NewServeMux()
	mux.Handle("/services/catalog/", FloorProxy(upstream, token))
	return server.Serve(ctx, ln, mux)
}
