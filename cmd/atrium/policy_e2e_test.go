//go:build linux

package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// setFaults sets (body "" clears) the faults of a service through the admin API.
func (p *proc) setFaults(t *testing.T, service, body string) {
	t.Helper()
	method := "PUT"
	if body == "" {
		method = "DELETE"
	}
	r := p.do(t, method, "/admin/services/"+service+"/faults", body, "Authorization", "Bearer "+adminToken)
	if r.status != http.StatusOK {
		t.Fatalf("%s faults of %s: %d %s", method, service, r.status, r.body)
	}
}

// calls returns how many calls the service's instances have seen, as they
// count them.
func (p *proc) calls(t *testing.T, service string) int64 {
	t.Helper()
	r := p.do(t, "GET", "/admin/services/"+service+"/faults", "", "Authorization", "Bearer "+adminToken)
	var rep struct{ Instances []struct{ Calls int64 } }
	if err := json.Unmarshal(r.body, &rep); err != nil || r.status != 200 {
		t.Fatalf("faults report of %s: %d %s", service, r.status, r.body)
	}
	var n int64
	for _, i := range rep.Instances {
		n += i.Calls
	}
	return n
}

type page struct {
	Product struct{ ID string }
	Stock   *struct{ Available int }
	Rating  *struct{ Count int }
	Reviews []json.RawMessage
	Meta    struct {
		Partial bool
		Sources map[string]struct {
			Status, Instance, Cache string
			Attempts                int
		}
	} `json:"_meta"`
}

func (p *proc) page(t *testing.T, id string) (response, page) {
	t.Helper()
	r := p.do(t, "GET", "/api/v1/products/"+id+"/page", "")
	var pg page
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &pg); err != nil {
			t.Fatalf("page %s: %v: %s", id, err, r.body)
		}
	}
	return r, pg
}

func wantProblem(t *testing.T, r response, status int, code string) {
	t.Helper()
	var prob struct {
		Status       int
		Code, Detail string
	}
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.body, &prob) != nil || prob.Code != code || prob.Detail == "" {
		t.Fatalf("got %d %s, want a %d problem with code %s", r.status, r.body, status, code)
	}
}

// The policies, each against real service processes (microservices mode).
func TestPoliciesInMicroservices(t *testing.T) {
	p := start(t, "up", "--breaker-failures", "1000", "--deadline", "1s", "--call-timeout", "400ms")

	t.Run("optional source down gives a partial page", func(t *testing.T) {
		p.setFaults(t, "reviews", `{"error_rate":1}`)
		defer p.setFaults(t, "reviews", "")
		r, pg := p.page(t, "p002")
		if r.status != 200 || !pg.Meta.Partial || pg.Reviews != nil || pg.Rating != nil || pg.Stock == nil || pg.Product.ID != "p002" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		for _, src := range []string{"reviews", "rating"} {
			if st := pg.Meta.Sources[src].Status; st != "error" {
				t.Errorf("%s status %q, want error", src, st)
			}
		}
	})

	t.Run("required source failing is a 502", func(t *testing.T) {
		p.setFaults(t, "catalog", `{"error_rate":1}`)
		defer p.setFaults(t, "catalog", "")
		wantProblem(t, p.do(t, "GET", "/api/v1/products/p003/page", ""), http.StatusBadGateway, "source_failed")
	})

	t.Run("required source too slow is a 504 within the deadline", func(t *testing.T) {
		p.setFaults(t, "catalog", `{"latency_ms":10000}`)
		defer p.setFaults(t, "catalog", "")
		start := time.Now()
		r := p.do(t, "GET", "/api/v1/products/p004/page", "")
		wantProblem(t, r, http.StatusGatewayTimeout, "source_timeout")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("answered after %v; the deadline is 1s and the fault 10s", took)
		}
	})

	t.Run("100 identical concurrent reads make one call", func(t *testing.T) {
		p.setFaults(t, "recommendations", `{"latency_ms":300}`)
		defer p.setFaults(t, "recommendations", "")
		before := p.calls(t, "recommendations")
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if r, _ := p.page(t, "p005"); r.status != 200 {
					t.Errorf("status %d", r.status)
				}
			})
		}
		wg.Wait()
		if n := p.calls(t, "recommendations") - before; n != 1 {
			t.Errorf("100 concurrent product pages made %d calls to recommendations, want 1", n)
		}
	})
}

func TestStaleIfErrorAndRetryBudget(t *testing.T) {
	p := start(t, "up", "--cache-ttl", "1ms", "--breaker-failures", "1000", "--retries", "3")

	t.Run("stale-if-error", func(t *testing.T) {
		if r, pg := p.page(t, "p006"); r.status != 200 || pg.Rating == nil {
			t.Fatalf("warm-up: %d %s", r.status, r.body)
		}
		p.setFaults(t, "reviews", `{"error_rate":1}`)
		defer p.setFaults(t, "reviews", "")
		r, pg := p.page(t, "p006")
		src := pg.Meta.Sources["rating"]
		if r.status != 200 || pg.Rating == nil || src.Status != "cached" || src.Cache != "stale" {
			t.Fatalf("with reviews down: %d, rating %+v, source %+v", r.status, pg.Rating, src)
		}
	})

	t.Run("retries stop at the budget", func(t *testing.T) {
		p.setFaults(t, "recommendations", `{"error_rate":1}`)
		defer p.setFaults(t, "recommendations", "")
		before := p.calls(t, "recommendations")
		const requests = 30
		for i := range requests {
			p.page(t, fmt.Sprintf("p%03d", 20+i))
		}
		// Without a budget 30 requests x 4 attempts = 120 calls; the budget
		// (10 tokens, retries while more than 5 remain) allows a few retries.
		if n := p.calls(t, "recommendations") - before; n < requests || n > requests+8 {
			t.Errorf("%d failing requests with 3 retries each made %d calls; want %d to %d", requests, n, requests, requests+8)
		}
	})
}

func TestBreakerInMicroservices(t *testing.T) {
	p := start(t, "up", "--breaker-failures", "3", "--breaker-cooldown", "300ms")
	p.setFaults(t, "users", `{"error_rate":1}`)
	for i := range 3 { // retries may add failures; 3 requests are surely enough
		p.do(t, "GET", fmt.Sprintf("/api/v1/users/u%02d/dashboard", i+1), "")
	}
	before := p.calls(t, "users")
	r := p.do(t, "GET", "/api/v1/users/u04/dashboard", "")
	wantProblem(t, r, http.StatusServiceUnavailable, "source_circuit_open")
	if after := p.calls(t, "users"); after != before {
		t.Errorf("the open breaker let %d calls reach users", after-before)
	}
	p.setFaults(t, "users", "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := p.do(t, "GET", "/api/v1/users/u05/dashboard", "")
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker never closed again: %d %s", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServiceHonoursThePropagatedDeadline(t *testing.T) {
	p := start(t, "up")
	p.setFaults(t, "catalog", `{"latency_ms":20000}`)
	r := p.do(t, "GET", "/services/catalog/products/p001", "", "X-Atrium-Timeout-Ms", "100")
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d %s, want 504", r.status, r.body)
	}
	// The catalog itself gave up at the 100 ms it was told, not at the end
	// of its 20 s latency: its own access-log line says so. (The client may
	// see either 504: the catalog's, or on a stalled machine the gateway's,
	// which waits a little longer.)
	rid := r.header.Get("X-Request-Id")
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(p.output(), "\n") {
			var l struct {
				Component  string
				RequestID  string `json:"request_id"`
				Status     int
				DurationMS float64 `json:"duration_ms"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Component != "catalog" || l.RequestID != rid {
				continue
			}
			if l.Status != http.StatusGatewayTimeout || l.DurationMS > 5000 {
				t.Fatalf("the catalog answered %d after %.0f ms; want a 504 at its 100 ms deadline", l.Status, l.DurationMS)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access-log line of the catalog for request %s", rid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A crash fault takes down the whole monolith, but only one service in
// microservices mode, where the page degrades and the service comes back.
func TestCrashFault(t *testing.T) {
	t.Run("monolith", func(t *testing.T) {
		p := start(t, "monolith")
		p.setFaults(t, "reviews", `{"crash":true}`)
		req, _ := http.NewRequest("GET", p.base+"/api/v1/products/p007/page", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("the monolith answered %d after its reviews module crashed", resp.StatusCode)
		}
		<-p.Done()
		err := p.Err()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Errorf("the monolith exited with %v, want status 3", err)
		}
	})
	t.Run("microservices", func(t *testing.T) {
		p := start(t, "up")
		old := p.instances(t, "reviews")[0].ID
		p.setFaults(t, "reviews", `{"crash":true}`)
		r, pg := p.page(t, "p007")
		if r.status != 200 || !pg.Meta.Partial || pg.Product.ID != "p007" {
			t.Fatalf("with reviews crashed: %d %s", r.status, r.body)
		}
		// The supervisor restarts reviews; the new instance has no fault.
		deadline := time.Now().Add(20 * time.Second)
		for {
			insts := p.instances(t, "reviews")
			if len(insts) == 1 && insts[0].ID != old {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reviews did not come back: %v", insts)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Once the breaker lets a probe through, pages are whole again.
		for {
			r, pg := p.page(t, "p008")
			if r.status == 200 && !pg.Meta.Partial {
				break
			}
			if r.status != 200 || time.Now().After(deadline) {
				t.Fatalf("after the restart: %d %s", r.status, r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
