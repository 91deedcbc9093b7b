//go:build linux

package main_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestScaleUnderLoad scales the catalog of a running atrium up from one
// replica to three and back to one with atrium scale, under load through
// the API proxy and the product page: no request fails (the replicas
// stopped deregister, then drain), and each step is visible in the
// registry. A partitioned service or a gateway without children says why
// it cannot be scaled.
func TestScaleUnderLoad(t *testing.T) {
	p := start(t, "up", "--partitions", "users=hash:2")
	scale := func(arg string) string {
		t.Helper()
		cmd := exec.Command(binary, "scale", "--gateway", p.base, arg)
		cmd.Env = env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("atrium scale %s: %v\n%s", arg, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	okProxy, failedProxy, waitProxy := hammer(ctx, p.base+"/services/catalog/products/p001", 4)
	okPage, failedPage, waitPage := hammer(ctx, p.base+"/api/v1/products/p002/page", 4)
	if got := scale("catalog=3"); got != "catalog: 1 → 3 replicas" {
		t.Errorf("scale up said %q", got)
	}
	waitFor(t, "three catalog instances", func() bool { return len(p.instances(t, "catalog")) == 3 })
	for at := okProxy.Load(); okProxy.Load() < at+100 && ctx.Err() == nil; { // served by three
		time.Sleep(10 * time.Millisecond)
	}
	if got := scale("catalog=1"); got != "catalog: 3 → 1 replicas" {
		t.Errorf("scale down said %q", got)
	}
	if n := len(p.instances(t, "catalog")); n != 1 {
		t.Errorf("after scaling down, %d catalog instances", n)
	}
	for at := okProxy.Load(); okProxy.Load() < at+100 && ctx.Err() == nil; {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	waitProxy()
	waitPage()
	t.Logf("catalog 1 → 3 → 1 under load: %d proxied (%d failed), %d pages (%d failed)", okProxy.Load(), failedProxy.Load(), okPage.Load(), failedPage.Load())
	if failedProxy.Load()+failedPage.Load() != 0 || okProxy.Load() < 200 || okPage.Load() == 0 {
		t.Errorf("requests failed while scaling")
	}

	cmd := exec.Command(binary, "scale", "--gateway", p.base, "users=3")
	cmd.Env = env()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "partitioned") {
		t.Errorf("scaling a partitioned service: %v %s", err, out)
	}
	if r := p.do(t, "PUT", "/admin/services/catalog/replicas", `{"replicas":0}`, "Authorization", "Bearer "+adminToken, "Content-Type", "application/json"); r.status != 400 {
		t.Errorf("0 replicas: %d %s", r.status, r.body)
	}
}
