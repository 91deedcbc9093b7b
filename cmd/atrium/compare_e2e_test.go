//go:build linux

package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareSmoke runs atrium-compare briefly and checks the report's
// structure, and that the failure-isolation run shows the monolith down and
// the microservices answering partially.
func TestCompareSmoke(t *testing.T) {
	out := filepath.Join(t.TempDir(), "comparison.md")
	cmd := exec.Command(compareBinary, "--duration", "700ms", "--rate", "60", "--workers", "4", "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("atrium-compare: %v\n%s", err, b)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"## 1. Steady load", "## 2. Latency budget", "## 3. Failure isolation",
		"## 4. Independent scaling", "## 5. Independent deploy", "## 8. The checkout", "## 9. State on SQLite or PostgreSQL", "GOMAXPROCS", "atrium-compare --duration 700ms"} {
		if !strings.Contains(string(md), section) {
			t.Errorf("the report lacks %q", section)
		}
	}
	var rep struct {
		Steady []struct{ Mode, Endpoint string }
		Usage  []struct {
			CPUSeconds float64 `json:"cpu_seconds"`
		}
		Latency []struct {
			P50 float64 `json:"p50_ms"`
		}
		Isolation []struct {
			Mode         string
			Errors       int
			Partial      int
			Availability float64
			Timeline     []struct{ Errors int }
		}
		Scaling  []struct{ Throughput float64 }
		Deploy   []struct{ Requests int }
		Checkout []struct {
			Style           string
			Orders          int
			OutageTried     int `json:"outage_tried"`
			OutageAccepted  int `json:"outage_accepted"`
			OutageCompleted int `json:"outage_completed"`
		}
		Storage []struct {
			Engine, Endpoint string
			Requests         int
			Errors           int
		}
		Proxy []struct {
			Proxy string
			OK    int
			CPU   float64 `json:"cpu_per_request_us"`
		}
	}
	raw, err := os.ReadFile(strings.TrimSuffix(out, ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Steady) != 6 || len(rep.Usage) != 2 || len(rep.Latency) != 6 || len(rep.Isolation) != 2 || len(rep.Scaling) != 3 || len(rep.Deploy) != 2 {
		t.Fatalf("report rows: steady %d, usage %d, latency %d, isolation %d, scaling %d, deploy %d",
			len(rep.Steady), len(rep.Usage), len(rep.Latency), len(rep.Isolation), len(rep.Scaling), len(rep.Deploy))
	}
	for _, u := range rep.Usage {
		if u.CPUSeconds <= 0 {
			t.Errorf("no CPU time measured: %+v", rep.Usage)
		}
	}
	mono, micro := rep.Isolation[0], rep.Isolation[1]
	if mono.Mode != "monolith" || mono.Errors == 0 {
		t.Errorf("the monolith was not down when reviews crashed: %+v", mono)
	}
	if micro.Mode != "microservices" || micro.Errors != 0 || micro.Partial == 0 {
		t.Errorf("microservices did not answer partially through the crash: errors %d, partial %d", micro.Errors, micro.Partial)
	}
	// Inventory frozen for 5 s: the saga can take no checkout; the
	// choreography takes every one and completes it once inventory is back.
	if len(rep.Checkout) != 2 || rep.Checkout[0].Orders == 0 || rep.Checkout[1].Orders == 0 {
		t.Fatalf("checkout rows: %+v", rep.Checkout)
	}
	if saga, events := rep.Checkout[0], rep.Checkout[1]; saga.OutageAccepted != 0 ||
		events.OutageTried != 20 || events.OutageAccepted != 20 || events.OutageCompleted != 20 {
		t.Errorf("inventory down: the saga %+v, the choreography %+v", saga, events)
	}
	// The same pages with the services' state in SQLite, then in a
	// throw-away PostgreSQL: every request answered on both.
	if len(rep.Storage) != 4 || rep.Storage[0].Engine != "SQLite" || rep.Storage[3].Engine != "PostgreSQL" {
		t.Fatalf("storage rows: %+v", rep.Storage)
	}
	for _, r := range rep.Storage {
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("storage, %s on %s: %d requests, %d errors", r.Endpoint, r.Engine, r.Requests, r.Errors)
		}
	}
	// The proxy beside nginx and beside the Go floor, each answering and
	// each measured.
	var proxies []string
	for _, r := range rep.Proxy {
		proxies = append(proxies, r.Proxy)
		if r.OK == 0 || r.CPU <= 0 {
			t.Errorf("proxy %s: %d answered, %.1f µs of CPU each", r.Proxy, r.OK, r.CPU)
		}
	}
	if strings.Join(proxies, ", ") != "atrium, nginx, Go net/http floor" {
		t.Errorf("proxies measured: %v", proxies)
	}
	charts, _ := filepath.Glob(filepath.Join(strings.TrimSuffix(out, ".md"), "*.svg"))
	if len(charts) != 4 {
		t.Errorf("charts: %v, want 3 latency charts and the availability chart", charts)
	}
	for _, c := range charts {
		if b, _ := os.ReadFile(c); !strings.Contains(string(b), "<svg") {
			t.Errorf("%s is not an SVG", c)
		}
	}
}
