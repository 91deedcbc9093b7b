package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// NATS runs a real nats-server, with JetStream and one user, on a free
// loopback port until the test ends, and returns its URL.
func NATS(t testing.TB, user, password string) string {
	t.Helper()
	bin := Tool(t, "nats-server")
	addr := FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", t.TempDir(), "--user", user, "--pass", password)
	serve(t, cmd)
	listening(t, addr, "nats-server")
	return "nats://" + addr
}
