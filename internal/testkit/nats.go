package testkit

import (
	"bufio"
	"bytes"
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
	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		host, port, _ := strings.Cut(addr, ":")
		var out bytes.Buffer
		cmd := exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", t.TempDir(), "--user", user, "--pass", password)
		cmd.Stderr = &out
		exited := serve(t, cmd)
		if greets(addr, exited) {
			return "nats://" + addr
		}
		// The port was taken between FreeAddr and the server's bind (other
		// tests' servers bind ports all the time), or the server failed.
		if attempt == 3 {
			said := "(still running)"
			select {
			case <-exited: // its output is complete
				said = out.String()
			default:
			}
			t.Fatalf("nats-server did not answer on %s: %s", addr, said)
		}
	}
}

// greets reports whether a NATS server answers on addr (its first line is
// INFO) within 20 s, before exited is closed.
func greets(addr string, exited <-chan struct{}) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, "INFO ") {
			return true
		}
	}
	return false
}
