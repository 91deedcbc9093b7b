package balance_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/registry"
)

// testPool returns n instances of service "svc".
func testPool(n int) []registry.Instance {
	pool := make([]registry.Instance, n)
	for i := range pool {
		pool[i] = registry.Instance{ID: fmt.Sprintf("svc-%d", i), Service: "svc", Address: "127.0.0.1", Port: 10000 + i}
	}
	return pool
}

func TestRoundRobinIsEven(t *testing.T) {
	var rr balance.RoundRobin
	pool := testPool(3)
	counts := map[string]int{}
	for range 300 {
		counts[rr.Select(pool, nil).ID]++
	}
	for _, inst := range pool {
		if counts[inst.ID] != 100 {
			t.Errorf("%s picked %d times of 300, want 100", inst.ID, counts[inst.ID])
		}
	}
}

// staticResolver serves fixed pools.
type staticResolver map[string][]registry.Instance

func (s staticResolver) Instances(name string) []registry.Instance { return s[name] }

func instanceOf(t *testing.T, srv *httptest.Server, id string) registry.Instance {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	return registry.Instance{ID: id, Service: "svc", Address: host, Port: p}
}

func echoServer(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.URL.Path)
	}))
}

func get(t *testing.T, c *http.Client, ctx context.Context, u string) (string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func TestTransportResolvesAndRecords(t *testing.T) {
	a, b := echoServer("a"), echoServer("b")
	defer a.Close()
	defer b.Close()
	c := &http.Client{Transport: &balance.Transport{Resolver: staticResolver{
		"svc": {instanceOf(t, a, "svc-a"), instanceOf(t, b, "svc-b")},
	}}}
	seen := map[string]int{}
	for range 4 {
		ctx, rec := hop.WithRecord(context.Background())
		body, err := get(t, c, ctx, "http://svc/x/y")
		if err != nil {
			t.Fatal(err)
		}
		seen[body]++
		if want := "svc-" + body[:1]; rec.Instance() != want {
			t.Errorf("recorded %q, answered by %q", rec.Instance(), want)
		}
	}
	if seen["a /x/y"] != 2 || seen["b /x/y"] != 2 {
		t.Errorf("answers = %v, want 2 each", seen)
	}
	if _, err := get(t, c, context.Background(), "http://nothing/"); !errors.Is(err, balance.ErrNoInstance) {
		t.Errorf("unknown service: err = %v, want ErrNoInstance", err)
	}
}

func TestTransportRetriesARefusedGETOnAnotherInstance(t *testing.T) {
	live := echoServer("live")
	defer live.Close()
	dead := echoServer("dead")
	deadInst := instanceOf(t, dead, "svc-0-dead")
	dead.Close() // its port now refuses connections
	c := &http.Client{Transport: &balance.Transport{Resolver: staticResolver{
		"svc": {deadInst, instanceOf(t, live, "svc-1-live")},
	}}}
	for i := range 4 {
		body, err := get(t, c, context.Background(), "http://svc/")
		if err != nil || body != "live /" {
			t.Fatalf("GET %d = %q, %v; want the live instance's answer", i, body, err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://svc/", nil)
	errs := 0
	for range 2 { // round robin reaches the dead instance once in two
		if resp, err := c.Do(req); err != nil {
			errs++
		} else {
			resp.Body.Close()
		}
	}
	if errs != 1 {
		t.Errorf("%d of 2 POSTs failed, want 1: a POST is not retried", errs)
	}
}

func BenchmarkRoundRobin(b *testing.B) {
	var rr balance.RoundRobin
	pool := testPool(5)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rr.Select(pool, nil)
		}
	})
}
