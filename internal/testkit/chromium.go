package testkit

import (
	"path/filepath"
	"testing"
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
