//go:build consul

package consul_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/registry/consul"
	"github.com/atrium-bff/atrium/registry/registrytest"
)

// agent runs a real Consul agent in development mode (one server, in
// memory) on free loopback ports until the test ends, and returns its HTTP
// address. make test-consul builds it from Consul's module source; run
// without it, the test fails rather than skips.
func agent(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("consul")
	if err != nil {
		t.Fatal("no consul on PATH: make test-consul builds one (see its comment in the Makefile)")
	}
	http, dns, serf, serfWAN, server := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	port := func(a string) string { _, p, _ := cutLast(a); return p }
	cmd := exec.Command(bin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-log-level", "error",
		"-http-port", port(http), "-dns-port", port(dns), "-serf-lan-port", port(serf), "-serf-wan-port", port(serfWAN),
		"-server-port", port(server), "-grpc-port", "-1", "-grpc-tls-port", "-1", "-data-dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := consul.New(context.Background(), consul.Config{Address: http, Logger: slog.New(slog.DiscardHandler)}); err == nil {
			r.Close()
			return http
		}
		if time.Now().After(deadline) {
			t.Fatal("consul did not answer within 30 s")
		}
	}
}

func cutLast(a string) (string, string, bool) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			return a[:i], a[i+1:], true
		}
	}
	return a, "", false
}

// TestConformance runs the registry suite against a real Consul agent.
func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T, ttl time.Duration) (registry.Engine, func() registry.Engine) {
		addr := agent(t)
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
