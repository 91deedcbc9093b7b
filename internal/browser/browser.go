// Package browser runs Debian's headless Chromium for the tests that look
// at a page as a person would: the docs page and the trace waterfall.
package browser

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Require returns the path of chromium. Where it is missing the test is
// skipped, unless ATRIUM_REQUIRE_TOOLS is set (make test sets it, after
// installing chromium), where the test fails instead.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("ATRIUM_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	return path
}

// Args are the flags of a headless run with a fresh profile in dir and no
// background traffic of Chromium's own (updates, sync, time), which this
// machine's closed network would refuse anyway.
func Args(dir string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
}
