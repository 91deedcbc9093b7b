package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/server"
)

func TestPanicIsAProblem(t *testing.T) {
	e := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.GET("/boom", func(echo.Context) error { panic("kaboom") })
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != 500 || p.Status != 500 || p.RequestID == "" {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Content-Type") != problem.ContentType {
		t.Errorf("content type %q", w.Header().Get("Content-Type"))
	}
	if p.Detail == "kaboom" {
		t.Error("a panic's value leaked to the client")
	}
}

func TestHealth(t *testing.T) {
	e := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var notReady error = errors.New("warming up")
	server.Health(e, func(context.Context) error { return notReady })
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	if w := get("/healthz"); w.Code != 200 {
		t.Errorf("healthz = %d", w.Code)
	}
	if w := get("/readyz"); w.Code != 503 || w.Header().Get("Content-Type") != problem.ContentType {
		t.Errorf("readyz while not ready = %d %s", w.Code, w.Body)
	}
	notReady = nil
	if w := get("/readyz"); w.Code != 200 {
		t.Errorf("readyz when ready = %d", w.Code)
	}
}

func TestRequestIDFromTheClientIsBounded(t *testing.T) {
	e := server.New(server.Config{Logger: slog.New(slog.DiscardHandler)})
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"abc-123_x.y:z", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 1<<20), false},
		{"has space", false},
		{"<script>", false},
		{"ünï", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(echo.HeaderXRequestID, tc.sent)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		got := w.Header().Get(echo.HeaderXRequestID)
		if (got == tc.sent) != tc.kept || !server.ValidRequestID(got) {
			t.Errorf("sent %.20q…: answered %.20q…; want kept=%v and a valid id", tc.sent, got, tc.kept)
		}
	}
}

// TestAStreamEndsOnShutdown: a handler that streams until the server
// shuts down (ShuttingDown) is told so, and the shutdown does not wait
// out its grace for it.
func TestAStreamEndsOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	streaming, ended := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(streaming)
		select {
		case <-server.ShuttingDown(r.Context()):
			close(ended)
		case <-time.After(time.Minute):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, ln, h) }()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-streaming
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream was not told of the shutdown")
	}
	if err := <-served; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestTheAccessLogKeepsNoLink: a trace link in a request's query is a
// credential; the access line names the parameter, not its value.
func TestTheAccessLogKeepsNoLink(t *testing.T) {
	var log strings.Builder
	e := server.New(server.Config{Logger: slog.New(slog.NewJSONHandler(&log, nil))})
	e.GET("/admin/traces/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/admin/traces/abc?view=html&link=1796245875.6835465d", nil))
	if !strings.Contains(log.String(), `"uri":"/admin/traces/abc?link=redacted&view=html"`) || strings.Contains(log.String(), "6835465d") {
		t.Errorf("access line: %s", log.String())
	}
}
