package testkit

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NATS runs a real nats-server, with JetStream and one user, on a free
// loopback port until the test ends, and returns its URL.
func NATS(t testing.TB, user, password string) string {
	t.Helper()
	bin := Tool(t, "nats-server")
	addr := FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", t.TempDir(), "--user", user, "--pass", password)
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatal("nats-server did not listen within 10 s")
		}
	}
}
