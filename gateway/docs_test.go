package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	dir := testkit.ChromiumDir(t)
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

// TestTryItOutCallsTheServerThatServedThePage opens the docs page in
// headless Chromium on a port that is not 8080 and on 127.0.0.1, not
// localhost, lets it open the product page's operation (a deep link),
// clicks Execute, and reads what came back: a 200 from the same server,
// not a refused connection or a CORS error from a host written in the
// document.
func TestTryItOutCallsTheServerThatServedThePage(t *testing.T) {
	chromium := testkit.Chromium(t)
	gw := monolith(t)
	// The docs page in a frame of a page of the same server, whose script
	// clicks the page's own buttons as a person would, then tells the test
	// what the page shows.
	const driver = `<!doctype html><iframe id="docs" src="/docs#/composites/productPage" width="1200" height="3000"></iframe>
<script>
let clicked = false, seen = 0;
const poll = setInterval(() => {
  const doc = document.getElementById("docs").contentDocument;
  const op = doc && doc.querySelector("#operations-composites-productPage");
  if (!op) return;
  if (!clicked) {
    const tryOut = op.querySelector(".try-out__btn");
    if (tryOut && !tryOut.classList.contains("cancel")) { tryOut.click(); return; }
    const exec = op.querySelector(".execute"), id = op.querySelector("input[placeholder='id']");
    // Execute once the form has been drawn with the example, and stayed so a moment.
    if (exec && id && id.value && ++seen >= 3) { exec.click(); clicked = true; }
    return;
  }
  const status = op.querySelector(".live-responses-table .response .response-col_status");
  const url = op.querySelector(".request-url pre");
  if (status && url) {
    clearInterval(poll);
    fetch("/done?shown=" + encodeURIComponent(status.textContent.trim() + " " + url.textContent.trim()));
  }
}, 100);
</script>`
	shown := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/try":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, driver)
		case "/done":
			select {
			case shown <- r.URL.Query().Get("shown"):
			default:
			}
		default:
			gw.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	if strings.HasSuffix(srv.URL, ":8080") {
		t.Skip("the test server took port 8080: this test is about another port")
	}
	cmd := exec.Command(chromium, append(testkit.ChromiumArgs(testkit.ChromiumDir(t)), srv.URL+"/try")...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	defer func() { // SIGTERM: Chromium ends its own helpers, which a kill would leave behind
		cmd.Process.Signal(syscall.SIGTERM)
		done := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		done.Stop()
	}()
	select {
	case got := <-shown:
		if want := "200 " + srv.URL + "/api/v1/products/p001/page"; !strings.HasPrefix(got, want) {
			t.Errorf("Try it out shows %q, want %q", got, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the docs page showed no answer to Try it out within 60 s")
	}
}
