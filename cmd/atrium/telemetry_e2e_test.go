//go:build linux

package main_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/atrium-bff/atrium/internal/testkit"
)

type span struct {
	TraceID  string `json:"trace_id"`
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_span_id"`
	Name     string
	Kind     string
	Service  string
}

func (p *proc) trace(t *testing.T, id string) []span {
	t.Helper()
	r := p.do(t, "GET", "/admin/traces/"+id, "", "Authorization", "Bearer "+adminToken)
	var tr struct{ Spans []span }
	if err := json.Unmarshal(r.body, &tr); err != nil || r.status != 200 {
		t.Fatalf("trace %s: %d %.300s", id, r.status, r.body)
	}
	return tr.Spans
}

// tracedPage fetches a product page as part of a trace its caller sampled
// (W3C traceparent, flag 01) — most new traces are not sampled, but a
// sampled caller's always is — and returns the trace's spans.
func tracedPage(t *testing.T, p *proc, product string) (string, []span) {
	t.Helper()
	b := make([]byte, 24)
	rand.Read(b)
	parent := fmt.Sprintf("00-%x-%x-01", b[:16], b[16:])
	r := p.do(t, "GET", "/api/v1/products/"+product+"/page", "", "traceparent", parent)
	id := r.header.Get("X-Trace-Id")
	if r.status != 200 || id != fmt.Sprintf("%x", b[:16]) {
		t.Fatalf("page: %d, X-Trace-Id %q, want the caller's trace %x", r.status, id, b[:16])
	}
	return id, p.trace(t, id)
}

// orchestrationNames are the span names both modes share: the composite,
// its calls, and the services.
func orchestrationNames(spans []span) map[string]bool {
	names := map[string]bool{}
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "composite ") || strings.HasPrefix(s.Name, "call ") || strings.HasPrefix(s.Name, "service ") {
			names[s.Name] = true
		}
	}
	return names
}

func TestOneTraceAcrossEveryProcess(t *testing.T) {
	micro := start(t, "up")
	id, spans := tracedPage(t, micro, "p011")
	byID := map[string]span{}
	services := map[string]bool{}
	for _, s := range spans {
		if s.TraceID != id {
			t.Errorf("span %s %q is in trace %s, not %s", s.SpanID, s.Name, s.TraceID, id)
		}
		byID[s.SpanID] = s
		services[s.Service] = true
	}
	var composite span
	for _, s := range spans {
		if s.Name == "composite product_page" {
			composite = s
		}
	}
	if composite.Service != "atrium-gateway" {
		t.Fatalf("no composite span from the gateway in %v", spans)
	}
	// Each service the page calls answers in its own process, inside the
	// composite: its span descends from the composite's.
	descends := func(s span) bool {
		for s.ParentID != "" {
			if s.ParentID == composite.SpanID {
				return true
			}
			s = byID[s.ParentID]
		}
		return false
	}
	for _, svc := range []string{"catalog", "inventory", "reviews", "recommendations"} {
		found := false
		for _, s := range spans {
			if s.Service == "atrium-"+svc && s.Name == "service "+svc && descends(s) {
				found = true
			}
		}
		if !found {
			t.Errorf("no span from the %s process under the composite; services seen: %v", svc, services)
		}
	}

	// A service process names its server span after its own route, not the
	// /* its instance serves it under.
	for _, s := range spans {
		if s.Kind == "server" && s.Service != "atrium-gateway" && (strings.Contains(s.Name, "*") || !strings.Contains(s.Name, " /")) {
			t.Errorf("%s's server span is named %q", s.Service, s.Name)
		}
	}
	if want := "GET /products/{id}"; !slices.ContainsFunc(spans, func(s span) bool { return s.Service == "atrium-catalog" && s.Name == want }) {
		t.Errorf("no %q span from the catalog", want)
	}

	mono := start(t, "monolith")
	_, monoSpans := tracedPage(t, mono, "p011")
	a, b := orchestrationNames(spans), orchestrationNames(monoSpans)
	if len(a) < 10 {
		t.Errorf("microservices trace has only %v", a)
	}
	for n := range a {
		if !b[n] {
			t.Errorf("span %q is in the microservices trace but not the monolith's", n)
		}
	}
	for n := range b {
		if !a[n] {
			t.Errorf("span %q is in the monolith trace but not the microservices'", n)
		}
	}

	// The access log line of the request carries its trace id.
	if !strings.Contains(micro.output(), `"trace_id":"`+id+`"`) {
		t.Errorf("no log line carries trace_id %s", id)
	}
	// No secret reaches the logs.
	for _, out := range []string{micro.output(), mono.output()} {
		if strings.Contains(out, adminToken) {
			t.Error("the admin token appears in the logs")
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s does not parse as Prometheus text: %v", url, err)
	}
	return families
}

// count sums the sample counts of a histogram family over the series
// whose labels include want.
func count(fams map[string]*dto.MetricFamily, name string, want map[string]string) uint64 {
	var n uint64
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		if h := m.GetHistogram(); h != nil {
			n += h.GetSampleCount()
		}
	}
	return n
}

func TestMetricsMove(t *testing.T) {
	p := start(t, "up")
	route := map[string]string{"http_route": "/api/v1/products/{id}/page"}
	before := scrape(t, p.base+"/metrics")
	for range 3 {
		p.page(t, "p012")
	}
	after := scrape(t, p.base+"/metrics")
	if d := count(after, "http_server_request_duration_seconds", route) - count(before, "http_server_request_duration_seconds", route); d != 3 {
		t.Errorf("the request histogram moved by %d for 3 product pages", d)
	}
	calls := map[string]string{"atrium_source": "product", "atrium_service": "catalog"}
	if count(after, "atrium_downstream_duration_seconds", calls) == 0 {
		t.Error("no downstream call recorded for source product")
	}
	for _, name := range []string{"atrium_cache_lookups_total", "atrium_breaker_state", "atrium_retry_budget", "atrium_registry_instances", "http_server_active_requests"} {
		if after[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}
	for name, f := range after {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v := l.GetValue(); strings.Contains(v, "p012") || strings.Contains(v, "u0") {
					t.Errorf("%s has an id as a label value: %s=%s", name, l.GetName(), v)
				}
			}
		}
	}
}

// TestWaterfallRendersInChromium checks the HTML view of a trace in
// headless Chromium: every span is a row with a bar.
func TestWaterfallRendersInChromium(t *testing.T) {
	chromium := testkit.Chromium(t)
	p := start(t, "up")
	id, spans := tracedPage(t, p, "p013")
	// The admin asks for a link; the browser opens it with no header.
	r := p.do(t, "GET", "/admin/traces/"+id+"/link", "", "Authorization", "Bearer "+adminToken)
	var link struct{ URL string }
	if err := json.Unmarshal(r.body, &link); err != nil || r.status != 200 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	dir := testkit.ChromiumDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	shot := filepath.Join(dir, "trace.png")
	args := testkit.ChromiumArgs(dir)
	dom, err := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", p.base+link.URL)...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if rows := strings.Count(string(dom), `class="row"`); rows != len(spans) {
		t.Errorf("the waterfall has %d rows for %d spans", rows, len(spans))
	}
	if !strings.Contains(string(dom), "composite product_page") || !strings.Contains(string(dom), `class="span `) {
		t.Errorf("the waterfall lacks the composite or its bars")
	}
	if err := exec.CommandContext(ctx, chromium, append(args, "--screenshot="+shot, "--window-size=1200,900", p.base+link.URL)...).Run(); err == nil {
		t.Logf("screenshot of the waterfall: %s", shot)
	}
}
