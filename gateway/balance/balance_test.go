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
	"strings"
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
	// A refused connection never carried the request: a POST is sent again.
	for i := range 2 { // round robin reaches the dead instance once in two
		req, _ := http.NewRequest(http.MethodPost, "http://svc/", strings.NewReader(`{"n":1}`))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %d: %v; a refused POST is sent to another instance", i, err)
		}
		resp.Body.Close()
	}
}

func TestTransportDoesNotRepeatAPOSTThatMayHaveArrived(t *testing.T) {
	live := echoServer("live")
	defer live.Close()
	rude, err := net.Listen("tcp", "127.0.0.1:0") // takes the request, then hangs up
	if err != nil {
		t.Fatal(err)
	}
	defer rude.Close()
	go func() {
		for {
			conn, err := rude.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 4096))
			conn.Close()
		}
	}()
	port := rude.Addr().(*net.TCPAddr).Port
	c := &http.Client{Transport: &balance.Transport{Resolver: staticResolver{
		"svc": {{ID: "svc-0-rude", Service: "svc", Address: "127.0.0.1", Port: port}, instanceOf(t, live, "svc-1-live")},
	}}}
	errs := 0
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "http://svc/", strings.NewReader(`{"n":1}`))
		if resp, err := c.Do(req); err != nil {
			errs++
		} else {
			resp.Body.Close()
		}
	}
	if errs != 1 {
		t.Errorf("%d of 2 POSTs failed, want 1: a POST the instance may have acted on is not sent twice", errs)
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
