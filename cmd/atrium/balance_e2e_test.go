//go:build linux

package main_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/services"
)

// via fetches path with client and returns the status and the instance that
// answered.
func (p *proc) via(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(p.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Atrium-Instance")
}

func TestStickySessionsThroughTheProxy(t *testing.T) {
	p := start(t, "up", "--replicas", "catalog=3", "--balance", "catalog=sticky")
	waitInstances(t, p, "catalog", 3)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	_, first := p.via(t, client, "/services/catalog/products?limit=1")
	for range 10 {
		if status, got := p.via(t, client, "/services/catalog/products?limit=1"); status != 200 || got != first {
			t.Fatalf("a sticky client moved from %s to %s (%d)", first, got, status)
		}
	}
	// A client without the cookie is spread as usual.
	seen := map[string]bool{}
	for range 6 {
		_, got := p.via(t, http.DefaultClient, "/services/catalog/products?limit=1")
		seen[got] = true
	}
	if len(seen) != 3 {
		t.Errorf("cookieless clients reached %v, want all 3 instances", seen)
	}
	// Its instance dies: the client falls back without an error, and sticks again.
	for _, inst := range p.instances(t, "catalog") {
		if inst.ID == first {
			var pid int
			fmt.Sscan(inst.Meta["pid"], &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	status, second := p.via(t, client, "/services/catalog/products?limit=1")
	if status != 200 || second == first {
		t.Fatalf("after its instance died: %d from %s", status, second)
	}
	for range 5 {
		if status, got := p.via(t, client, "/services/catalog/products?limit=1"); status != 200 || got != second {
			t.Fatalf("the client did not stick to its new instance %s: %d from %s", second, status, got)
		}
	}
}

func waitInstances(t *testing.T, p *proc, service string, n int) []instance {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		insts := p.instances(t, service)
		if len(insts) == n {
			return insts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d instances, want %d", service, len(insts), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailingAndHungInstancesAreAvoided breaks one of two catalog
// instances at a time: one that answers every call with an error is
// ejected after a few failures; one that hangs (SIGSTOP) is marked down by
// the active check. Traffic then flows to the healthy one only.
func TestFailingAndHungInstancesAreAvoided(t *testing.T) {
	p := start(t, "up", "--replicas", "catalog=2", "--health-interval", "200ms")
	insts := waitInstances(t, p, "catalog", 2)
	bad, good := insts[0], insts[1]

	// Only the bad instance fails: set its faults through its own admin API.
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("http://127.0.0.1:%d/admin/faults", bad.Port), strings.NewReader(`{"error_rate":1}`))
	req.Header.Set("Authorization", "Bearer "+services.Token(adminToken, "catalog")) // the service's own credential
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("set faults on %s: %v %v", bad.ID, err, resp)
	}
	failures := 0
	for range 10 {
		if status, _ := p.via(t, http.DefaultClient, "/services/catalog/products?limit=1"); status != 200 {
			failures++
		}
	}
	if failures > 3 {
		t.Errorf("%d of 10 requests failed; the failing instance should be ejected after 3", failures)
	}
	for range 20 {
		if status, got := p.via(t, http.DefaultClient, "/services/catalog/products?limit=1"); status != 200 || got != good.ID {
			t.Fatalf("after ejection: %d from %s, want 200 from %s", status, got, good.ID)
		}
	}
}

func TestHungInstanceIsMarkedDown(t *testing.T) {
	p := start(t, "up", "--replicas", "catalog=2", "--health-interval", "500ms")
	insts := waitInstances(t, p, "catalog", 2)
	hung, good := insts[0], insts[1]
	var pid int
	if _, err := fmt.Sscan(hung.Meta["pid"], &pid); err != nil || pid <= 0 {
		t.Fatalf("instance %s has no pid: %q", hung.ID, hung.Meta["pid"])
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	// The hung instance never answers, so any request that reaches it times
	// out however long the client waits: a generous timeout only keeps a
	// slow, shared machine from failing a request the good instance serves.
	client := &http.Client{Timeout: 10 * time.Second}
	// Round-robin alternates between two instances: three answers in a row
	// from the good one mean the hung one is out of the pool (two missed
	// checks of 250 ms each).
	deadline := time.Now().Add(30 * time.Second)
	for streak := 0; streak < 3; {
		if time.Now().After(deadline) {
			t.Fatal("requests still reach the hung instance")
		}
		resp, err := client.Get(p.base + "/services/catalog/products?limit=1")
		if err != nil {
			streak = 0
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Header.Get("X-Atrium-Instance") == good.ID {
			streak++
		} else {
			streak = 0
		}
	}
	for range 10 {
		if status, got := p.via(t, client, "/services/catalog/products?limit=1"); status != 200 || got != good.ID {
			t.Fatalf("with %s hung: %d from %s", hung.ID, status, got)
		}
	}
}
