// Package testkit starts the real programs that atrium's tests run against
// — Chromium, nginx, Redis, NATS — from the Debian packages that make test
// installs, on loopback ports, and stops them when the test ends.
package testkit

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/loopback"
)

// Tool returns the path of a program the tests need. Where it is missing
// the test is skipped, unless ATRIUM_REQUIRE_TOOLS is set (make test sets
// it, after installing the program), where the test fails instead. A PATH
// without /usr/sbin still finds nginx.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		if _, serr := os.Stat(filepath.Join(dir, name)); err != nil && serr == nil {
			path, err = filepath.Join(dir, name), nil
		}
	}
	if err != nil {
		if os.Getenv("ATRIUM_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// serve starts cmd, a server a test needs: it dies with the test's process
// and is killed when the test ends.
func serve(t testing.TB, cmd *exec.Cmd) (exited <-chan struct{}) {
	t.Helper()
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return done
}

// listening waits until what listens on addr, failing the test after 20 s.
func listening(t testing.TB, addr, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen within 20 s", what)
		}
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a server that must be told its port before it starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := loopback.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// NodeTool returns the path of a program of the npm packages pinned in
// openapi/package-lock.json (make test installs them with npm ci), found
// from any package's directory; skipped or failed as Tool is when missing.
func NodeTool(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			break
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
		} else {
			err = os.ErrNotExist
		}
	}
	path := filepath.Join(dir, "openapi", "node_modules", ".bin", name)
	if _, serr := os.Stat(path); err != nil || serr != nil {
		if os.Getenv("ATRIUM_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is not installed (cd openapi && npm ci)", name)
		}
		t.Skipf("%s is not installed (cd openapi && npm ci)", name)
	}
	return path
}
