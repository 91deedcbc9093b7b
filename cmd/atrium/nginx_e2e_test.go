//go:build linux

package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestNginxInFront runs the real nginx, configured by atrium nginx-config,
// in front of two gateways (monoliths) on loopback: it spreads requests over
// both, restarting each gateway in turn under load fails no request, and a
// gateway killed outright is failed over.
func TestNginxInFront(t *testing.T) {
	addrs := []string{testkit.FreeAddr(t), testkit.FreeAddr(t)}
	gws := []*proc{start(t, "monolith", "--addr", addrs[0]), start(t, "monolith", "--addr", addrs[1])}
	base := startNginx(t, addrs, "")

	seen := map[string]int{}
	for range 20 {
		resp, err := http.Get(base + "/api/v1/products/p001/page")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("through nginx: %v %v", err, resp)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Atrium-Gateway")]++
	}
	if len(seen) != 2 {
		t.Errorf("nginx sent 20 requests to %v, want both gateways", seen)
	}

	// Restart each gateway in turn under load: nothing fails.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, failed, wait := hammer(ctx, base+"/api/v1/products/p002/page", 8)
	for i := range gws {
		gws[i].stop(t)
		gws[i] = start(t, "monolith", "--addr", addrs[i])
		time.Sleep(200 * time.Millisecond) // under load on the new gateway before the next
	}
	cancel()
	wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("rolling restart of the gateways behind nginx: %d failed of %d", failed.Load(), ok.Load()+failed.Load())
	}
	t.Logf("rolling restart behind nginx: %d requests, %d failed", ok.Load()+failed.Load(), failed.Load())

	// Kill one outright: nginx fails over.
	syscall.Kill(gws[1].cmd.Process.Pid, syscall.SIGKILL)
	for i := range 20 {
		resp, err := http.Get(base + "/api/v1/products/p003/page")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d after a gateway died: %v %v", i, err, resp)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Atrium-Gateway"); got != fmt.Sprintf("monolith-%d", gws[0].cmd.Process.Pid) {
			t.Fatalf("answered by %q after the other gateway died", got)
		}
	}
}

// startNginx runs nginx, configured by atrium nginx-config, in front of the
// gateways, and returns its base URL once it answers.
func startNginx(t *testing.T, gateways []string, sticky string) string {
	t.Helper()
	bin := testkit.Tool(t, "nginx")
	dir, listen := t.TempDir(), testkit.FreeAddr(t)
	conf := filepath.Join(dir, "nginx.conf")
	args := []string{"nginx-config", "--listen", listen, "--gateways", strings.Join(gateways, ","), "--prefix", dir, "--out", conf}
	if sticky != "" {
		args = append(args, "--sticky", sticky)
	}
	if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("nginx-config: %v\n%s", err, out)
	}
	ngx := exec.Command(bin, "-p", dir, "-c", conf)
	ngx.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ngx.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ngx.Process.Signal(syscall.SIGQUIT) // graceful
		ngx.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error log:\n%s", log)
		}
	})
	base := "http://" + listen
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
