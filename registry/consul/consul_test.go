//go:build consul

package consul_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/registry/consul"
	"github.com/atrium-bff/atrium/registry/registrytest"
)

// TestConformance runs the registry suite against a real Consul agent.
func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T, ttl time.Duration) (registry.Engine, func() registry.Engine) {
		addr := testkit.Consul(t)
		open := func() registry.Engine {
			r, err := consul.New(context.Background(), consul.Config{Address: addr, TTL: ttl, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		}
		return open(), open
	})
}
