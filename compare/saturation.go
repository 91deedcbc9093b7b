package compare

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/atrium-bff/atrium/internal/loopback"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/services"
)

// SaturationRow is the product page at capacity in one mode: a closed loop
// over random product ids (so that identical reads seldom coincide and every
// page makes its calls), with the CPU each part of the system spent.
type SaturationRow struct {
	Mode string `json:"mode"`
	Stats
	// CallsPerPage is the downstream calls the composite made per page
	// (from the gateway's atrium.downstream.duration count).
	CallsPerPage float64 `json:"calls_per_page"`
	// CPU per page, in milliseconds: all processes, and the gateway's own.
	CPUPerPageMS        float64 `json:"cpu_per_page_ms"`
	GatewayCPUPerPageMS float64 `json:"gateway_cpu_per_page_ms"`
	// CPU per downstream call, in microseconds: the gateway's, and the
	// services' (microservices; zero in a monolith, where both are one).
	GatewayCPUPerCallUS float64 `json:"gateway_cpu_per_call_us"`
	ServiceCPUPerCallUS float64 `json:"service_cpu_per_call_us"`
}

// ProxyRow is one proxy in front of the same catalog instance at capacity.
type ProxyRow struct {
	Proxy string `json:"proxy"`
	Stats
	// CPUPerRequestUS is the proxy processes' CPU per request, in
	// microseconds.
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
}

// randomPages is a targeter of product pages over random seed ids.
func randomPages(base string, header http.Header) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		*t = vegeta.Target{Method: http.MethodGet, URL: fmt.Sprintf("%s/api/v1/products/p%03d/page", base, 1+rand.IntN(60)), Header: header}
		return nil
	}
}

// downstreamCalls reads the gateway's count of downstream calls.
func downstreamCalls(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "atrium_downstream_duration_seconds_count{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += v
		}
	}
	return n, sc.Err()
}

// saturation drives the product page at capacity in each mode.
func (r *runner) saturation(ctx context.Context, rep *Report) error {
	for _, mode := range modes {
		p, err := r.start(ctx, mode)
		if err != nil {
			return err
		}
		warm := load{name: "saturation " + mode + " warm-up", targeter: randomPages(p.Base, nil), workers: uint64(r.cfg.Workers), duration: min(time.Second, r.cfg.Duration)}
		warm.run(ctx, r.prog)
		callsBefore, err := downstreamCalls(p.Base)
		if err != nil {
			return err
		}
		pid := p.Cmd.Process.Pid
		ownBefore, allBefore := process.UsageOf(pid), p.Usage()
		st := load{name: "saturation " + mode, targeter: randomPages(p.Base, nil), workers: uint64(r.cfg.Workers), duration: r.cfg.Duration}.run(ctx, r.prog)
		ownAfter, allAfter := process.UsageOf(pid), p.Usage()
		callsAfter, err := downstreamCalls(p.Base)
		if err != nil {
			return err
		}
		if err := p.Stop(20 * time.Second); err != nil {
			return fmt.Errorf("stop %s: %w", mode, err)
		}
		pages, calls := float64(st.OK+st.Partial), callsAfter-callsBefore
		if pages == 0 || calls == 0 {
			return fmt.Errorf("saturation %s: no page answered", mode)
		}
		own, all := (ownAfter.CPU - ownBefore.CPU).Seconds(), (allAfter.CPU - allBefore.CPU).Seconds()
		row := SaturationRow{Mode: mode, Stats: st, CallsPerPage: calls / pages,
			CPUPerPageMS: all / pages * 1e3, GatewayCPUPerPageMS: own / pages * 1e3, GatewayCPUPerCallUS: own / calls * 1e6}
		if mode == Microservices {
			row.ServiceCPUPerCallUS = (all - own) / calls * 1e6
		}
		rep.Saturation = append(rep.Saturation, row)
	}
	return nil
}

// proxy measures atrium's API proxy and nginx in front of the same catalog
// instance, one after the other, twice each, at capacity.
func (r *runner) proxy(ctx context.Context, rep *Report) error {
	p, err := r.start(ctx, Microservices)
	if err != nil {
		return err
	}
	defer p.Stop(20 * time.Second)
	insts, err := r.instances(p.Base)
	if err != nil {
		return err
	}
	var catalog string
	for _, i := range insts {
		if i.Service == services.Catalog {
			catalog = fmt.Sprintf("%s:%d", i.Address, i.Port)
		}
	}
	ng, err := r.nginx(ctx, catalog)
	if err != nil {
		return err
	}
	defer ng.stop()
	const path = "/services/catalog/products/p001"
	type proxy struct {
		name, base string
		pids       func() []int
	}
	proxies := []proxy{
		{"atrium", p.Base, func() []int { return []int{p.Cmd.Process.Pid} }},
		{"nginx", ng.base, func() []int { return process.TreeOf(ng.cmd.Process.Pid) }},
	}
	if len(r.cfg.GoProxy) > 0 {
		gp, err := r.goProxy(ctx, catalog)
		if err != nil {
			return err
		}
		defer gp.stop()
		proxies = append(proxies, proxy{"Go net/http floor", gp.base, func() []int { return []int{gp.cmd.Process.Pid} }})
	}
	sums := make([]ProxyRow, len(proxies))
	for round := range 3 { // the first is the warm-up
		for i, px := range proxies {
			before := process.UsageOf(px.pids()...)
			name := fmt.Sprintf("proxy %s, round %d", px.name, round)
			st := load{name: name, targets: targets(px.base, []string{path}, nil), workers: uint64(r.cfg.Workers), duration: r.cfg.Duration}.run(ctx, r.prog)
			after := process.UsageOf(px.pids()...)
			if round == 0 {
				continue
			}
			if st.OK == 0 {
				return fmt.Errorf("proxy %s: no request answered", px.name)
			}
			sums[i].Proxy = px.name
			sums[i].Throughput += st.Throughput / 2
			sums[i].P50 += st.P50 / 2
			sums[i].P99 += st.P99 / 2
			sums[i].Requests += st.Requests
			sums[i].OK += st.OK
			sums[i].Errors += st.Errors
			sums[i].Idle += st.Idle / 2
			sums[i].CPUPerRequestUS += (after.CPU - before.CPU).Seconds() / float64(st.OK) * 1e6 / 2
		}
	}
	rep.Proxy = append(rep.Proxy, sums...)
	return nil
}

// proxyProc is a proxy the proxy scenario runs beside atrium's: nginx, or
// the Go floor.
type proxyProc struct {
	cmd  *exec.Cmd
	base string
	quit os.Signal // what stops it gracefully
}

func (n *proxyProc) stop() {
	_ = n.cmd.Process.Signal(n.quit)
	_ = n.cmd.Wait()
}

// goProxy starts the Go floor (GoProxy) in front of the catalog instance
// at addr.
func (r *runner) goProxy(ctx context.Context, addr string) (*proxyProc, error) {
	listen, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.cfg.GoProxy[0], append(r.cfg.GoProxy[1:], listen, addr)...)
	cmd.Env = append(os.Environ(), "ATRIUM_COMPARE_PROXY_TOKEN="+services.Token(r.token, services.Catalog))
	if os.Getenv("GOGC") == "" {
		cmd.Env = append(cmd.Env, "GOGC=400") // atrium's own default: the two Go proxies collect garbage alike
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("the Go floor proxy: %w", err)
	}
	return (&proxyProc{cmd: cmd, base: "http://" + listen, quit: syscall.SIGTERM}).await(ctx, "the Go floor proxy")
}

// await returns n once it answers the proxied path, or stops it and fails
// after 10 s.
func (n *proxyProc) await(ctx context.Context, name string) (*proxyProc, error) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(n.base + "/services/catalog/products/p001"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			n.stop()
			return nil, fmt.Errorf("%s in front of catalog did not answer", name)
		}
	}
}

// nginx starts nginx in front of the catalog instance at addr, as the
// gateway reaches it: the path /services/catalog/ cut, the service's
// credential sent, keep-alive connections.
func (r *runner) nginx(ctx context.Context, addr string) (*proxyProc, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, fmt.Errorf("proxy scenario: nginx is not installed: %w", err)
		}
		bin = "/usr/sbin/nginx"
	}
	listen, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.dir, "nginx")
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream catalog { server %[2]s; keepalive 128; }
  server {
    listen %[3]s;
    location /services/catalog/ {
      proxy_pass http://catalog/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer %[4]s";
    }
  }
}
`, dir, addr, listen, services.Token(r.token, services.Catalog))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return (&proxyProc{cmd: cmd, base: "http://" + listen, quit: syscall.SIGQUIT}).await(ctx, "nginx")
}
