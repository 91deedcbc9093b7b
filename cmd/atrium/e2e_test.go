//go:build linux

package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/process"
)

// binary and compareBinary are the atrium and atrium-compare binaries that
// TestMain builds, side by side as make build puts them.
var binary, compareBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atrium-e2e")
	if err != nil {
		panic(err)
	}
	binary, compareBinary = filepath.Join(dir, "atrium"), filepath.Join(dir, "atrium-compare")
	if out, err := exec.Command("go", "build", "-o", dir, ".", "../atrium-compare").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running atrium process.
type proc struct {
	*process.Server
	base string
	cmd  *exec.Cmd
}

const adminToken = "e2e-admin-token"

// env is what every server of these tests gets besides the tests' own
// environment: the admin token, and no per-client rate limit, since every
// request of these tests comes from one address (the tests of the limits
// set it again).
func env(more ...string) []string {
	return append([]string{"ATRIUM_ADMIN_TOKEN=" + adminToken, "ATRIUM_RATE_LIMIT=0"}, more...)
}

// start runs atrium with args on a free loopback port and waits until it
// is ready. The process is stopped when the test ends.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with more environment variables.
func startEnv(t *testing.T, more []string, args ...string) *proc {
	t.Helper()
	return launch(t, more, append(args, "--data-dir", t.TempDir())...)
}

// startIn is start on the data directory dir, which several may share.
func startIn(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return launch(t, nil, append(args, "--data-dir", dir)...)
}

func launch(t *testing.T, more []string, args ...string) *proc {
	t.Helper()
	lp, err := process.Launch(context.Background(), binary, args, env(more...), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{Server: lp, base: lp.Base, cmd: lp.Cmd}
	t.Cleanup(func() {
		if err := lp.Stop(20 * time.Second); errors.Is(err, process.ErrStopTimeout) {
			t.Errorf("atrium %v did not stop within 20s of SIGTERM", args)
		}
		if t.Failed() {
			t.Logf("last log lines of atrium %v:\n%s", args, p.Tail())
		}
	})
	return p
}

func (p *proc) output() string { return p.Output() }

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) error {
	t.Helper()
	err := p.Stop(20 * time.Second)
	if errors.Is(err, process.ErrStopTimeout) {
		t.Error("atrium did not stop within 20s of SIGTERM")
	}
	return err
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (p *proc) do(t *testing.T, method, path, body string, header ...string) response {
	t.Helper()
	r, err := p.try(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is do for a request that may fail: it returns the error.
func (p *proc) try(method, path, body string, header ...string) (response, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, r)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Requested-With", "e2e") // as a frontend's fetch would; the hostile tests go without
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if (strings.HasPrefix(path, "/api/v1/users/") || path == "/api/v1/checkout" || strings.HasPrefix(path, "/services/")) &&
		req.Header.Get("Authorization") == "" {
		// Acting for any user, or reading a service's own routes, takes the admin token.
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}, err
}

// comparable strips what legitimately differs between two runs: _meta
// (timings, instances), creation and expiry times.
func comparable(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "_meta")
			delete(x, "created_at")
			delete(x, "expires_at")
			delete(x, "request_id")
			for _, c := range x {
				strip(c)
			}
		case []any:
			for _, c := range x {
				strip(c)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return string(out)
}

// request is one call of the parity test; key, when set, is sent as the
// Idempotency-Key.
type request struct {
	method, path, body, key string
	want                    int // the status both modes must answer; 0 for any 2xx
}

// publicRequests is every public endpoint and every route the proxy lets the
// admin token read, with writes in an order both modes replay identically.
func publicRequests() []request {
	reqs := []request{
		{"GET", "/services/catalog/products", "", "", 0},
		{"GET", "/services/catalog/products?category=books&limit=3", "", "", 0},
		{"GET", "/services/catalog/products?ids=p003,p001,p999", "", "", 0},
		{"GET", "/services/catalog/products/p010", "", "", 0},
		{"GET", "/services/inventory/stock?ids=p001,p002,p003", "", "", 0},
		{"GET", "/services/inventory/stock/p004", "", "", 0},
		{"GET", "/services/reviews/products/p001/reviews?limit=2", "", "", 0},
		{"GET", "/services/reviews/products/p001/summary", "", "", 0},
		{"GET", "/services/reviews/summaries?ids=p001,p002", "", "", 0},
		{"GET", "/services/users/users/u01", "", "", 0},
		{"GET", "/services/users/users?ids=u01,u05,u20", "", "", 0},
		{"GET", "/services/cart/carts/u01", "", "", 0},
		{"POST", "/services/payments/charges", `{"user_id":"u02","amount_cents":1999,"currency":"EUR","idempotency_key":"k1"}`, "", 403},
		{"GET", "/services/payments/charges/ch-1", "", "", 404},
		{"GET", "/services/recommendations/products/p001/recommendations?limit=3", "", "", 0},
		{"GET", "/api/v1/products/p999/page", "", "", 404},
		{"GET", "/api/v1/products/bad/page", "", "", 400},
		{"GET", "/api/v1/products?limit=5", "", "", 0},
		{"GET", "/api/v1/products?category=toys&limit=3", "", "", 0},
		{"GET", "/api/v1/products?q=set", "", "", 0},
		{"GET", "/api/v1/products?limit=0", "", "", 400},
		{"GET", "/api/v1/users/u03/dashboard", "", "", 0},
		{"GET", "/api/v1/users/u99/dashboard", "", "", 404},
		{"GET", "/api/v1/users/u03/cart", "", "", 0},
		{"POST", "/api/v1/users/u03/cart/items", `{"product_id":"p010","quantity":2}`, "", 0},
		{"PATCH", "/api/v1/users/u03/cart/items/p010", `{"quantity":1}`, "", 0},
		{"POST", "/api/v1/users/u03/cart/items", `{"product_id":"p011","quantity":1}`, "", 0},
		{"DELETE", "/api/v1/users/u03/cart/items/p011", "", "", 0},
		{"POST", "/api/v1/users/u03/cart/items", `{"product_id":"p999","quantity":1}`, "", 404},
		{"POST", "/api/v1/users/u03/cart/items", `{"product_id":"p001","quantity":99}`, "", 409},
		{"PATCH", "/api/v1/users/u03/cart/items/p020", `{"quantity":1}`, "", 404},
		{"POST", "/api/v1/checkout", `{"user_id":"u03"}`, "parity-1", 0},
		{"POST", "/api/v1/checkout", `{"user_id":"u03"}`, "parity-1", 0},
		{"POST", "/api/v1/checkout", `{"user_id":"u04"}`, "", 409},
		{"GET", "/api/v1/users/u03/dashboard", "", "", 0},
		{"GET", "/services/payments/charges/ch-1", "", "", 0},
		{"GET", "/services/orders/orders/o-000001", "", "", 0},
		{"GET", "/services/orders/users/u03/orders", "", "", 0},
		{"DELETE", "/api/v1/users/u03/cart", "", "", 0},
	}
	for i := 1; i <= 60; i++ {
		reqs = append(reqs, request{"GET", fmt.Sprintf("/api/v1/products/p%03d/page", i), "", "", 200})
	}
	return reqs
}

func TestBothModesServeTheSameData(t *testing.T) {
	mono := start(t, "monolith")
	micro := start(t, "up")
	// The first product page in microservices mode comes from named instances.
	page := micro.do(t, "GET", "/api/v1/products/p001/page", "")
	var doc struct {
		Product struct{ ID string }
		Meta    struct {
			Partial bool
			Sources map[string]struct{ Status, Instance string }
		} `json:"_meta"`
	}
	if err := json.Unmarshal(page.body, &doc); err != nil || doc.Product.ID != "p001" || doc.Meta.Partial {
		t.Fatalf("product page: %s", page.body)
	}
	for name, s := range doc.Meta.Sources {
		if s.Status != "ok" || !strings.Contains(s.Instance, "-") {
			t.Errorf("source %s = %+v, want ok from a named instance", name, s)
		}
	}
	for _, r := range publicRequests() {
		var hdr []string
		if r.key != "" {
			hdr = []string{"Idempotency-Key", r.key}
		}
		a := mono.do(t, r.method, r.path, r.body, hdr...)
		b := micro.do(t, r.method, r.path, r.body, hdr...)
		if a.status != b.status {
			t.Errorf("%s %s: monolith %d, microservices %d\n%s\n%s", r.method, r.path, a.status, b.status, a.body, b.body)
			continue
		}
		if (r.want == 0 && a.status/100 != 2) || (r.want != 0 && a.status != r.want) {
			t.Errorf("%s %s: %d %s, want %d", r.method, r.path, a.status, a.body, r.want)
		}
		if x, y := comparable(t, a.body), comparable(t, b.body); x != y {
			t.Errorf("%s %s differs:\nmonolith      %s\nmicroservices %s", r.method, r.path, x, y)
		}
	}
}

func TestBadInputNeverReachesA500(t *testing.T) {
	p := start(t, "monolith")
	big := `{"quantity":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/products/p999/page", "", 404},
		{"GET", "/api/v1/products/p0%00/page", "", 400},
		{"GET", "/api/v1/products/..%2f..%2fetc/page", "", 400},
		{"POST", "/api/v1/users/u01/cart/items", `{"product_id":`, 400},
		{"POST", "/api/v1/users/u01/cart/items", `{"product_id":"p001","quantity":"two"}`, 400},
		{"POST", "/api/v1/users/u01/cart/items", big, 413},
		{"POST", "/api/v1/checkout", `[]`, 400},
		{"POST", "/services/orders/orders", `[]`, 403},
		{"GET", "/services/catalog/products?cursor=%ff", "", 400},
		{"GET", "/services/nope/x", "", 404},
	} {
		r := p.do(t, tt.method, tt.path, tt.body)
		if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s %s, want a %d problem", tt.method, tt.path, r.status, r.header.Get("Content-Type"), r.body, tt.status)
		}
	}
}

type instance struct {
	ID   string
	Port int
	Meta map[string]string
}

func (p *proc) instances(t *testing.T, service string) []instance {
	t.Helper()
	r := p.do(t, "GET", "/admin/registry/instances?service="+service, "", "Authorization", "Bearer "+adminToken)
	var out []instance
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		t.Fatalf("registry: %d %s", r.status, r.body)
	}
	return out
}

func TestReplicasSpreadAndSurviveAKill(t *testing.T) {
	p := start(t, "up", "--replicas", "catalog=3")
	var insts []instance
	for deadline := time.Now().Add(20 * time.Second); len(insts) < 3; insts = p.instances(t, "catalog") {
		if time.Now().After(deadline) {
			t.Fatalf("catalog has %d instances, want 3", len(insts))
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts := map[string]int{}
	for range 30 {
		r := p.do(t, "GET", "/services/catalog/products?limit=2", "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		counts[r.header.Get("X-Atrium-Instance")]++
	}
	if len(counts) != 3 {
		t.Fatalf("30 requests reached %v, want all 3 instances", counts)
	}
	for id, n := range counts {
		if n != 10 {
			t.Errorf("%s served %d of 30 requests, want 10 (round robin)", id, n)
		}
	}

	victim := insts[0]
	var pid int
	fmt.Sscan(victim.Meta["pid"], &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	// Until the registry expires the victim, GETs that reach it are retried
	// on another instance: no request may fail.
	gone := false
	for deadline := time.Now().Add(20 * time.Second); !gone; {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still registered 20s after kill -9", victim.ID)
		}
		r := p.do(t, "GET", "/services/catalog/products?limit=2", "")
		if r.status != 200 {
			t.Fatalf("a request failed after the kill: %d %s", r.status, r.body)
		}
		gone = true
		for _, i := range p.instances(t, "catalog") {
			gone = gone && i.ID != victim.ID
		}
	}
	for range 20 {
		r := p.do(t, "GET", "/services/catalog/products?limit=2", "")
		if r.status != 200 || r.header.Get("X-Atrium-Instance") == victim.ID {
			t.Fatalf("after expiry: %d from %s", r.status, r.header.Get("X-Atrium-Instance"))
		}
	}
}

func TestUpRunsAProcessPerServiceAndLeavesNoOrphans(t *testing.T) {
	p := start(t, "up")
	var pids []int
	for _, name := range []string{"catalog", "inventory", "reviews", "users", "cart", "orders", "payments", "recommendations", "search"} {
		insts := p.instances(t, name)
		if len(insts) != 1 {
			t.Fatalf("%s has %d instances, want 1", name, len(insts))
		}
		var pid int
		fmt.Sscan(insts[0].Meta["pid"], &pid)
		if pid == 0 || pid == p.cmd.Process.Pid {
			t.Fatalf("%s runs in pid %d, not a process of its own", name, pid)
		}
		pids = append(pids, pid)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("atrium up exited with %v after SIGTERM", err)
	}
	for _, pid := range pids {
		// A child is reaped by its parent, the supervisor, which has exited:
		// any process left with that pid would be an orphan.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child %d still exists after atrium up stopped (%v)", pid, err)
		}
	}
	if n := strings.Count(p.output(), `"msg":"deregistered"`); n != len(pids) {
		t.Errorf("%d services deregistered on shutdown, want %d", n, len(pids))
	}
}

// TestReadmeQuickStart runs the quick start's curl commands against `atrium
// up`, so the README cannot promise what the server does not do.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, line := range strings.Split(string(readme), "\n") {
		if rest, ok := strings.CutPrefix(line, "curl -s localhost:8080"); ok {
			paths = append(paths, strings.Fields(rest)[0])
		}
	}
	if len(paths) < 3 {
		t.Fatalf("found %d curl commands in the README's quick start, want 3 or more", len(paths))
	}
	p := start(t, "up")
	for _, path := range paths {
		r := p.do(t, "GET", path, "")
		if r.status != http.StatusOK || !json.Valid(r.body) {
			t.Errorf("README's curl %s: %d %s", path, r.status, r.body)
		}
	}
}
