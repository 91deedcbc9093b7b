// Package nginx writes an nginx configuration that puts nginx in front of
// atrium: load balancing over several gateways (keep-alive to them, sensible
// timeouts, passive failover to the next one), and optionally an upstream
// and a location per service, read from the registry, so that nginx proxies
// /services/{name}/... to the instances directly.
package nginx

import (
	_ "embed"
	"io"
	"sort"
	"strings"
	"text/template"
)

// Config is what the configuration is made from.
type Config struct {
	// Listen is nginx's address, such as 127.0.0.1:8088.
	Listen string
	// Gateways are the gateways' host:port addresses. Required.
	Gateways []string
	// Services, when not empty, are service instances by service name.
	Services map[string][]string
	// Sticky, when set, keeps a client on one gateway: "ip" by its address
	// (ip_hash: the session stays where it was made), or "cookie:NAME" by
	// consistent hashing of a cookie the client already has.
	Sticky string
	// Prefix is the directory for nginx's pid, logs and temporary files, so
	// that it runs without root and without touching /var.
	Prefix string
}

//go:embed nginx.conf.tmpl
var tmplText string

var tmpl = template.Must(template.New("nginx").Funcs(template.FuncMap{
	"cookie":    func(s string) string { return strings.TrimPrefix(s, "cookie:") },
	"hasPrefix": strings.HasPrefix,
	"sorted": func(m map[string][]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
}).Parse(tmplText))

// Write writes the configuration.
func Write(w io.Writer, cfg Config) error { return tmpl.Execute(w, cfg) }
