package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Chromium returns the path of Debian's chromium, for the tests that look
// at a page as a person would (the docs page, the trace waterfall), as Tool
// does.
func Chromium(t testing.TB) string { return Tool(t, "chromium") }

// ChromiumArgs are the flags of a headless run with a fresh profile in dir
// and no background traffic of Chromium's own (updates, sync, time), which
// this machine's closed network would refuse anyway.
func ChromiumArgs(dir string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
}

// ChromiumDir returns a fresh directory for a Chromium run's profile (and
// what the test writes beside it), removed when the test ends. Unlike
// t.TempDir, whose removal fails the test, it waits up to 10 s for the
// helpers Chromium leaves to finish writing the profile, and then lets go:
// a test is not about Chromium's exit.
func ChromiumDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "atrium-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			err := os.RemoveAll(dir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Logf("left %s: %v", dir, err)
				return
			}
		}
	})
	return dir
}
