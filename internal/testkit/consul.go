//go:build consul

package testkit

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// Consul runs a real Consul agent in development mode (one server, in
// memory) on free loopback ports until the test ends, and returns its HTTP
// address. Consul has no Debian package: make test-consul builds it into
// bin/consul and runs the tests that need it, which are built with the tag
// consul; without it, they fail, never skip.
func Consul(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("consul")
	if err != nil {
		t.Fatal("no consul on PATH: make test-consul builds one")
	}
	port := func() string { _, p, _ := net.SplitHostPort(FreeAddr(t)); return p }
	httpPort := port()
	cmd := exec.Command(bin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-log-level", "error",
		"-http-port", httpPort, "-dns-port", port(), "-serf-lan-port", port(), "-serf-wan-port", port(),
		"-server-port", port(), "-grpc-port", "-1", "-grpc-tls-port", "-1", "-data-dir", t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	serve(t, cmd)
	addr := "127.0.0.1:" + httpPort
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v1/status/leader"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consul did not answer within 30 s:\n%s", out.String())
		}
	}
}
