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

// GoProxy serves on ln the least a Go proxy does in front of the catalog
// instance at upstream (host:port): net/http's httputil.ReverseProxy, the
// path /services/catalog/ cut and the service's credential set, over
// keep-alive connections, its copy buffers pooled, and nothing else (no routing table, limits,
// telemetry or logs). The proxy scenario measures it beside atrium's proxy
// and nginx, as the floor of any proxy built on net/http. It serves until
// ctx ends.
func GoProxy(ctx context.Context, ln net.Listener, upstream, token string) error {
	target := &url.URL{Scheme: "http", Host: upstream}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/services/catalog")
			r.Out.URL.RawPath = ""
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport:  transport,
		BufferPool: gateway.NewBufferPool(), // as any tuned Go proxy: no 32 KiB buffer per request
	}
	mux := http.NewServeMux()
	mux.Handle("/services/catalog/", rp)
	return server.Serve(ctx, ln, mux)
}
