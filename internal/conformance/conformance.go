// Package conformance runs one service test suite against both sides of a
// service's seam: the in-process implementation, and the HTTP client talking
// to a real HTTP server of that same implementation. A suite that passes on
// both proves the two behave the same, which is what lets atrium switch
// between monolith and microservices in wiring alone.
package conformance

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Sides describes how to build both sides of a service S.
type Sides[S any] struct {
	// New returns a fresh in-process implementation for one test.
	New func(t *testing.T) S
	// Handler serves an implementation over HTTP.
	Handler func(S) http.Handler
	// Client returns an S that calls the server at baseURL.
	Client func(baseURL string) S
}

// Run runs suite as subtests "in-process" and "http".
func Run[S any](t *testing.T, sides Sides[S], suite func(t *testing.T, svc S)) {
	t.Helper()
	t.Run("in-process", func(t *testing.T) {
		suite(t, sides.New(t))
	})
	t.Run("http", func(t *testing.T) {
		srv := httptest.NewServer(sides.Handler(sides.New(t)))
		t.Cleanup(srv.Close)
		suite(t, sides.Client(srv.URL))
	})
}
