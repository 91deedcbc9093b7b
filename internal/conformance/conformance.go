// Package conformance runs one service test suite against both sides of a
// service's seam: the in-process implementation, and the HTTP client talking
// to a real HTTP server of that same implementation. A suite that passes on
// both proves the two behave the same, which is what lets atrium switch
// between monolith and microservices in wiring alone.
package conformance

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/atrium-bff/atrium/internal/testkit"
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

// Open opens a store with open at path, and closes it when t ends.
func Open[S io.Closer](t testing.TB, path string, open func(path string) (S, error)) S {
	t.Helper()
	s, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Replicas opens two stores on one file at path, as two replicas of a
// service would, and runs n calls of do at once, spread over the two; it
// returns what each call returned, in call order. A call's error fails t.
func Replicas[S io.Closer, T any](t *testing.T, path string, open func(path string) (S, error), n int, do func(s S, i int) (T, error)) []T {
	t.Helper()
	stores := []S{Open(t, path, open), Open(t, path, open)}
	out := make([]T, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := do(stores[i%2], i)
			if err != nil {
				t.Error(err)
			}
			out[i] = v
		})
	}
	wg.Wait()
	return out
}

// Place gives where a service's database lives, a fresh one at each call:
// a SQLite file, or a schema of PostgreSQL (sqldb.Place).
type Place func(name string) string

// OnEveryEngine runs test as two subtests, on SQLite and on a real
// PostgreSQL (testkit.OnEveryEngine), with place naming a fresh database
// of the engine at each call: a store suite run by both holds the store to
// one behaviour on both.
func OnEveryEngine(t *testing.T, test func(t *testing.T, place Place)) {
	t.Helper()
	testkit.OnEveryEngine(t, func(t *testing.T, place func(string) string) {
		var n atomic.Int32
		test(t, func(name string) string { return place(fmt.Sprintf("%s-%d", name, n.Add(1))) })
	})
}
