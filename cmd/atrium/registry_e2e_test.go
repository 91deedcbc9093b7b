//go:build linux

package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/services"
)

// TestTwoGatewaysShareOneEtcd: every service registers itself in etcd,
// and two gateways, behind nginx, route by what they read there. One
// gateway is stopped under load: no request fails, the other keeps
// routing, and the services never notice (their registrations stand, each
// process still runs). A service that leaves is no longer routed to by
// either.
func TestTwoGatewaysShareOneEtcd(t *testing.T) {
	twoGatewaysShare(t, "etcd://"+strings.TrimPrefix(testkit.Etcd(t), "http://"))
}

// twoGatewaysShare runs the test above on the registry reg (etcd, Consul).
func twoGatewaysShare(t *testing.T, reg string) {
	testkit.Tool(t, "nginx")
	nats := []string{"--nats", testkit.NATS(t, "atrium", "shared"), "--nats-password", "shared"}
	data := t.TempDir()
	var svcs []*proc
	for _, name := range services.Names {
		args := append([]string{"service", "--addr", testkit.FreeAddr(t), "--registry", reg, "--nats-user", "atrium"}, nats...)
		svcs = append(svcs, launch(t, []string{"ATRIUM_SERVICE_TOKEN=" + services.Token(adminToken, name)}, append(append(args, "--data-dir", data), name)...))
	}
	addrs := []string{testkit.FreeAddr(t), testkit.FreeAddr(t)}
	var gws []*proc
	for _, addr := range addrs {
		gws = append(gws, start(t, append([]string{"gateway", "--addr", addr, "--registry", reg}, nats...)...))
	}
	for _, gw := range gws {
		if n := len(gw.instances(t, "")); n != len(services.Names) {
			t.Fatalf("a gateway reads %d instances from its registry, want %d", n, len(services.Names))
		}
	}
	base := startNginx(t, addrs, "")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, failed, wait := hammer(ctx, base+"/api/v1/products/p002/page", 8)
	for ok.Load() < 200 && ctx.Err() == nil { // under load before the stop
		time.Sleep(10 * time.Millisecond)
	}
	if err := gws[1].stop(t); err != nil {
		t.Errorf("the stopped gateway: %v", err)
	}
	for at := ok.Load(); ok.Load() < at+200 && ctx.Err() == nil; { // and after it, through the other
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wait()
	t.Logf("one of two gateways stopped under load: %d requests, %d failed", ok.Load()+failed.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() < 400 {
		t.Errorf("%d of %d requests failed", failed.Load(), ok.Load()+failed.Load())
	}
	for i, svc := range svcs {
		if svc.cmd.Process.Signal(syscall.Signal(0)) != nil {
			t.Errorf("%s is no longer running", services.Names[i])
		}
	}
	if n := len(gws[0].instances(t, "")); n != len(services.Names) {
		t.Errorf("after a gateway stopped, %d instances in the registry, want %d", n, len(services.Names))
	}

	// A service that leaves deregisters from etcd: the gateway stops routing to it.
	i := slices.Index(services.Names, services.Reviews)
	if err := svcs[i].stop(t); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gateway to drop reviews", func() bool { return len(gws[0].instances(t, services.Reviews)) == 0 })
	r := gws[0].do(t, "GET", "/api/v1/products/p004/page", "")
	var page struct {
		Meta struct{ Partial bool } `json:"_meta"`
	}
	if json.Unmarshal(r.body, &page); r.status != http.StatusOK || !page.Meta.Partial {
		t.Errorf("the page without reviews: %d partial=%v", r.status, page.Meta.Partial)
	}
}
