package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/rest"
)

var (
	errMissing = domain.New(domain.NotFound, "thing not found")
	errFull    = domain.New(domain.Conflict, "box is full")
	table      = rest.Errors{{Err: errMissing, Code: "thing_not_found"}, {Err: errFull, Code: "box_full"}}
)

type thing struct {
	ID   string `json:"id"`
	Size int    `json:"size"`
}

// server serves the table's errors and a few routes over the rest helpers.
func server(t *testing.T, batches *atomic.Int32, budget *atomic.Int64) *rest.Client {
	t.Helper()
	valid := func(id string) bool { return strings.HasPrefix(id, "t") }
	surface := rest.Surface{
		{Method: http.MethodGet, Path: "/things", Access: rest.Public},
		{Method: http.MethodGet, Path: "/things/:id", Access: rest.Public},
		{Method: http.MethodPost, Path: "/things", Access: rest.Internal},
	}
	h := rest.NewHandler(table, surface, func(e *echo.Echo) {
		e.GET("/things", rest.ByIDs(valid, func(_ context.Context, ids []string) ([]thing, error) {
			batches.Add(1)
			out := make([]thing, len(ids))
			for i, id := range ids {
				out[i] = thing{ID: id}
			}
			return out, nil
		}))
		e.GET("/things/:id", rest.ByParam("id", valid, func(ctx context.Context, id string) (thing, error) {
			if ms, err := strconv.ParseInt(echoHeader(ctx), 10, 64); err == nil {
				budget.Store(ms)
			}
			switch id {
			case "t404":
				return thing{}, fmt.Errorf("thing %s: %w", id, errMissing)
			case "t500":
				return thing{}, errors.New("disk on fire")
			}
			return thing{ID: id}, nil
		}))
		e.POST("/things", rest.WithBody(http.StatusCreated, func(_ echo.Context, in thing) (thing, error) {
			if in.Size > 3 {
				return thing{}, errFull
			}
			return in, nil
		}))
	})
	srv := httptest.NewServer(budgetHeader(h))
	t.Cleanup(srv.Close)
	return rest.NewClient(srv.URL, table)
}

type budgetKey struct{}

// budgetHeader hands the request's hop.TimeoutHeader to the handler's
// context, where the test reads it.
func budgetHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), budgetKey{}, r.Header.Get(hop.TimeoutHeader))))
	})
}

func echoHeader(ctx context.Context) string { s, _ := ctx.Value(budgetKey{}).(string); return s }

func TestErrorsCrossTheWireAsTheSameSentinel(t *testing.T) {
	var batches atomic.Int32
	var budget atomic.Int64
	c := server(t, &batches, &budget)
	ctx := context.Background()
	_, err := rest.Get[thing](ctx, c, "/things/t404", nil)
	if !errors.Is(err, errMissing) || !strings.Contains(err.Error(), "thing t404") {
		t.Errorf("a 404 came back as %v, want errMissing with its detail", err)
	}
	_, err = rest.Send[thing](ctx, c, http.MethodPost, "/things", thing{ID: "t1", Size: 9})
	if !errors.Is(err, errFull) || err.Error() != errFull.Error() {
		t.Errorf("a 409 came back as %v, want errFull itself", err)
	}
	_, err = rest.Get[thing](ctx, c, "/things/t500", nil)
	var se *rest.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusInternalServerError || strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("a 500 came back as %v: want a StatusError that does not leak the cause", err)
	}
	_, err = rest.Get[thing](ctx, c, "/things/x1", nil)
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		t.Errorf("a malformed id came back as %v, want a 400", err)
	}
}

func TestA504IsTheCallersDeadline(t *testing.T) {
	err := error(&rest.StatusError{Status: http.StatusGatewayTimeout})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("a 504 from the server is not a deadline exceeded")
	}
	if errors.Is(&rest.StatusError{Status: http.StatusBadGateway}, context.DeadlineExceeded) {
		t.Error("a 502 is a deadline exceeded")
	}
}

func TestClientSendsItsBudgetAndBatchesInChunks(t *testing.T) {
	var batches atomic.Int32
	var budget atomic.Int64
	c := server(t, &batches, &budget)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := rest.Get[thing](ctx, c, "/things/t1", nil); err != nil {
		t.Fatal(err)
	}
	if ms := budget.Load(); ms < 2000 || ms > 3000 {
		t.Errorf("the server was told a budget of %d ms, want about 3000", ms)
	}
	ids := make([]string, rest.MaxBatch+5)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%d", i)
	}
	got, err := rest.GetBatch[thing](ctx, c, "/things", "ids", ids)
	if err != nil || len(got) != len(ids) || got[len(got)-1].ID != ids[len(ids)-1] || batches.Load() != 2 {
		t.Errorf("%d ids: %d things in %d calls (err %v); want all, in order, in 2 calls", len(ids), len(got), batches.Load(), err)
	}
	if got, err := rest.GetBatch[thing](ctx, c, "/things", "ids", nil); err != nil || len(got) != 0 || batches.Load() != 2 {
		t.Errorf("no ids made a call or failed: %v, %v", got, err)
	}
}

func TestBindRefusesWhatIsNotExactlyJSON(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"unknown field", "application/json", `{"id":"t1","colour":"red"}`, http.StatusBadRequest},
		{"trailing data", "application/json", `{"id":"t1"} {}`, http.StatusBadRequest},
		{"not JSON", "application/json", `{"id":`, http.StatusBadRequest},
		{"empty", "application/json", ``, http.StatusBadRequest},
		{"wrong type", "text/plain", `{"id":"t1"}`, http.StatusUnsupportedMediaType},
		{"a type that only begins like JSON", "application/jsonp", `{"id":"t1"}`, http.StatusUnsupportedMediaType},
		{"a malformed type", "application/json; =", `{"id":"t1"}`, http.StatusUnsupportedMediaType},
		{"too large", "application/json", `{"id":"` + strings.Repeat("x", 2048) + `"}`, http.StatusRequestEntityTooLarge},
		{"fine", "application/json; charset=utf-8", `{"id":"t1","size":2}`, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := rest.NewHandler(table, rest.Surface{{Method: http.MethodPost, Path: "/things"}}, func(e *echo.Echo) {
				e.POST("/things", rest.WithBody(http.StatusCreated, func(_ echo.Context, in thing) (thing, error) { return in, nil }))
			})
			req := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(tc.body))
			req.Body = http.MaxBytesReader(httptest.NewRecorder(), req.Body, 1024)
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q, want a problem", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestIDsAndLimit(t *testing.T) {
	valid := func(id string) bool { return id != "" && !strings.ContainsAny(id, " ;") }
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{"a,b,c", true}, {"a", true}, {"a,,b", false}, {"a;drop", false},
		{strings.Repeat("a,", rest.MaxBatch) + "a", false}, {strings.TrimSuffix(strings.Repeat("a,", rest.MaxBatch), ","), true},
	} {
		ids, err := rest.SplitIDs(tc.raw, valid)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, rest.ErrInvalid) {
			t.Errorf("SplitIDs(%.20q…) = %d ids, %v; want ok=%v", tc.raw, len(ids), err, tc.ok)
		}
	}
	for _, tc := range []struct {
		query string
		want  int
		ok    bool
	}{{"", 20, true}, {"limit=1", 1, true}, {"limit=100", 100, true}, {"limit=0", 0, false}, {"limit=101", 0, false}, {"limit=x", 0, false}} {
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/?"+tc.query, nil), httptest.NewRecorder())
		n, err := rest.Limit(c, 20, 100)
		if n != tc.want || (err == nil) != tc.ok {
			t.Errorf("Limit(%q) = %d, %v; want %d, ok=%v", tc.query, n, err, tc.want, tc.ok)
		}
	}
}

func TestSurfaceMatchesTheServicesRoutes(t *testing.T) {
	s := rest.Surface{
		{Method: http.MethodGet, Path: "/products", Access: rest.Public},
		{Method: http.MethodGet, Path: "/products/:id", Access: rest.Public},
		{Method: http.MethodGet, Path: "/users/:user/orders", Access: rest.Owner},
		{Method: http.MethodPost, Path: "/orders", Access: rest.Internal},
	}
	for _, tc := range []struct {
		method, path string
		want         string // the route's path; "" for no match
		user         string
	}{
		{"GET", "/products", "/products", ""},
		{"GET", "/products/p001", "/products/:id", ""},
		{"GET", "/products/", "", ""},
		{"GET", "/products/p001/x", "", ""},
		{"POST", "/products", "", ""},
		{"GET", "/users/u01/orders", "/users/:user/orders", "u01"},
		{"GET", "/users/../orders", "", ""},
		{"GET", "/products/./p001", "", ""},
		{"GET", "/users/u01%2F..%2Fu02/orders", "/users/:user/orders", "u01%2F..%2Fu02"},
		{"POST", "/orders", "/orders", ""},
	} {
		r, user, ok := s.Match(tc.method, tc.path)
		if ok != (tc.want != "") || r.Path != tc.want || user != tc.user {
			t.Errorf("Match(%s %s) = %q, %q, %v; want %q, %q", tc.method, tc.path, r.Path, user, ok, tc.want, tc.user)
		}
	}
}

func TestNewHandlerRefusesASurfaceThatDrifted(t *testing.T) {
	for name, s := range map[string]rest.Surface{
		"a route not declared":   {{Method: http.MethodGet, Path: "/a"}},
		"a route not served":     {{Method: http.MethodGet, Path: "/a"}, {Method: http.MethodGet, Path: "/b"}, {Method: http.MethodGet, Path: "/c"}},
		"an owner without :user": {{Method: http.MethodGet, Path: "/a"}, {Method: http.MethodGet, Path: "/b", Access: rest.Owner}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewHandler took it")
				}
			}()
			rest.NewHandler(table, s, func(e *echo.Echo) {
				e.GET("/a", func(echo.Context) error { return nil })
				e.GET("/b", func(echo.Context) error { return nil })
			})
		})
	}
}

func TestAnUnreachableServiceIsDescribedInWords(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // its port now refuses connections
	c := rest.NewClient(addr, table)
	_, err := rest.Get[thing](context.Background(), c, "/things/t1", nil)
	var ue *rest.UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want an UnreachableError wrapping ECONNREFUSED", err)
	}
	if msg := err.Error(); strings.Contains(msg, "dial") || strings.Contains(msg, "/things") || !strings.HasSuffix(msg, "could not be reached (connection refused)") {
		t.Errorf("message %q tells the inside", msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if _, err := rest.Get[thing](ctx, rest.NewClient("http://catalog", table), "/x", nil); !errors.Is(err, context.DeadlineExceeded) ||
		err.Error() != "catalog did not answer in time" {
		t.Errorf("a call past its deadline: %v", err)
	}
}
