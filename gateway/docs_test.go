package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestDocsPageRendersOffline opens /docs in headless Chromium, with every
// host but the test server unreachable, and checks that the page rendered
// the operation list and asked nothing of any other host. make test installs
// Chromium and sets ATRIUM_REQUIRE_TOOLS, so there it cannot be skipped.
func TestDocsPageRendersOffline(t *testing.T) {
	chromium := testkit.Chromium(t)
	srv := httptest.NewServer(monolith(t))
	defer srv.Close()
	dir := t.TempDir()
	netlog := filepath.Join(dir, "netlog.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append(testkit.ChromiumArgs(dir),
		"--log-net-log="+netlog, "--virtual-time-budget=10000", "--dump-dom", srv.URL+"/docs")...)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	page := string(dom)
	for _, want := range []string{`class="opblock`, "/api/v1/products/{id}/page", "/api/v1/checkout", "/admin/services/{name}/faults"} {
		if !strings.Contains(page, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered DOM (start): %.2000s", page)
	}

	// Every request the page made was to the test server. Chromium's own
	// requests (updates, time, accounts) are not the page's: the page's
	// requests carry its origin in their network isolation key.
	raw, err := os.ReadFile(netlog)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSpace(string(raw)) // Chromium may leave the log unclosed
	if !strings.HasSuffix(text, "}") {
		text = strings.TrimSuffix(text, ",") + "]}"
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL string `json:"url"`
				NIK any    `json:"network_isolation_key"`
			} `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(text), &log); err != nil {
		t.Fatalf("net log: %v", err)
	}
	start := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	self, _ := url.Parse(srv.URL)
	origin := "http://" + self.Hostname()
	var asked []string
	for _, e := range log.Events {
		if e.Type != start || !strings.Contains(fmt.Sprint(e.Params.NIK), origin) {
			continue
		}
		asked = append(asked, e.Params.URL)
		if u, err := url.Parse(e.Params.URL); err != nil || u.Host != self.Host {
			t.Errorf("the docs page asked another host: %s", e.Params.URL)
		}
	}
	if !slices.Contains(asked, srv.URL+"/openapi.json") || len(asked) < 4 {
		t.Errorf("the page's requests %v lack the document or its assets", asked)
	}
}
