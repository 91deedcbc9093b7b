// Package compare runs the monolith and the microservices side by side on
// this machine, under the same load, and reports what each costs and what
// each survives: atrium-compare (make compare).
package compare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atrium-bff/atrium/internal/loopback"
	"github.com/atrium-bff/atrium/process"
)

// Config configures Run. Zero fields take the defaults in brackets.
type Config struct {
	// Binary is the atrium binary to run. Required.
	Binary string
	// Duration is how long each measured load runs [5s]; the whole
	// comparison takes about 25 durations plus start-ups.
	Duration time.Duration
	// Rate is the constant request rate of the open-loop runs [200/s].
	Rate int
	// Workers is the concurrency of the closed-loop runs [32].
	Workers int
	// Scenarios selects scenarios by name (steady, latency, saturation,
	// isolation, scaling, deploy, proxy, checkout, storage); empty means
	// all.
	Scenarios []string
	// Progress receives the live display. If nil, nothing is shown.
	Progress io.Writer
	// Command is the command line to quote in the report.
	Command string
	// Database is the PostgreSQL URL of the storage scenario; empty starts
	// a throw-away cluster (pgcluster), or skips the scenario where
	// PostgreSQL is not installed.
	Database string
	// Flags are added to every server's command line (say, --otel-sample 1
	// to measure the cost of tracing everything).
	Flags []string
	// GoProxy is the command that serves GoProxy: its arguments are the
	// address, then the upstream, and the credential comes in the
	// environment (ATRIUM_COMPARE_PROXY_TOKEN). The proxy scenario measures
	// it beside atrium's and nginx when set (atrium-compare go-proxy).
	GoProxy []string
}

// The two architectures.
const (
	Monolith      = "monolith"
	Microservices = "microservices"
)

// Endpoints are the composites measured, each a rotation of paths over the
// seed data.
var Endpoints = []Endpoint{
	{"product page", rotate("/api/v1/products/p%03d/page", 60)},
	{"listing", []string{"/api/v1/products?limit=20", "/api/v1/products?category=books", "/api/v1/products?category=toys&limit=10",
		"/api/v1/products?category=home", "/api/v1/products?category=games", "/api/v1/products?q=set"}},
	{"dashboard", rotate("/api/v1/users/u%02d/dashboard", 20)},
}

// Endpoint is a measured composite.
type Endpoint struct {
	Name  string
	Paths []string
}

func rotate(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i+1)
	}
	return out
}

// runner holds what every scenario needs.
type runner struct {
	cfg   Config
	token string
	prog  *progress
	dir   string
}

// Run runs the selected scenarios and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Duration == 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Rate == 0 {
		cfg.Rate = 200
	}
	if cfg.Workers == 0 {
		cfg.Workers = 32
	}
	dir, err := os.MkdirTemp("", "atrium-compare")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	r := &runner{cfg: cfg, token: hex.EncodeToString(b), prog: newProgress(cfg.Progress), dir: dir}
	rep := &Report{
		When: time.Now().UTC(), Command: cfg.Command,
		Machine: Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			OS: runtime.GOOS + "/" + runtime.GOARCH},
		Duration: cfg.Duration.String(), Rate: cfg.Rate, Workers: cfg.Workers,
	}
	for _, s := range []struct {
		name string
		run  func(context.Context, *Report) error
	}{
		{"steady", r.steady}, {"saturation", r.saturation}, {"isolation", r.isolation}, {"scaling", r.scaling},
		{"deploy", r.deploy}, {"proxy", r.proxy}, {"checkout", r.checkout}, {"storage", r.storage},
	} {
		if !r.selected(s.name) && !(s.name == "steady" && r.selected("latency")) {
			continue
		}
		if err := s.run(ctx, rep); err != nil {
			return rep, fmt.Errorf("compare: %s: %w", s.name, err)
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func (r *runner) selected(name string) bool {
	if len(r.cfg.Scenarios) == 0 {
		return true
	}
	for _, s := range r.cfg.Scenarios {
		if s == name {
			return true
		}
	}
	return false
}

// start runs one architecture with the comparison's settings: no response
// cache (so that every request exercises the calls being compared), quiet
// logs, a fresh data directory.
func (r *runner) start(ctx context.Context, mode string, extra ...string) (*process.Server, error) {
	sub := "monolith"
	if mode != Monolith {
		sub = "up"
	}
	data, err := os.MkdirTemp(r.dir, "data")
	if err != nil {
		return nil, err
	}
	// The load comes from one address: the per-client rate limit, which
	// guards a gateway from one client, would measure itself.
	args := append([]string{sub, "--no-cache", "--log-level", "error", "--data-dir", data, "--rate-limit", "0"}, extra...)
	args = append(args, r.cfg.Flags...)
	if !slices.Contains(args, "--addr") { // quiet logs do not say where it listens
		addr, err := loopback.FreeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--addr", addr)
	}
	return process.Launch(ctx, r.cfg.Binary, args, []string{"ATRIUM_ADMIN_TOKEN=" + r.token}, 30*time.Second)
}

// header is what every load request carries: the admin token, so that the
// dashboard of any user may be read.
func (r *runner) header() http.Header {
	return http.Header{"Authorization": {"Bearer " + r.token}}
}

// admin calls the admin API.
func (r *runner) admin(base, method, path, body string) error {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return nil
}

var modes = []string{Monolith, Microservices}

// steady runs each endpoint at a constant rate in each mode (Steady), then
// one request at a time (Latency), and measures the CPU and memory of all
// of the mode's processes.
func (r *runner) steady(ctx context.Context, rep *Report) error {
	for _, mode := range modes {
		p, err := r.start(ctx, mode)
		if err != nil {
			return err
		}
		// Warm-up, not measured: connections, caches of the runtime, JIT-free Go still pages in.
		load{name: mode + " warm-up", targets: targets(p.Base, Endpoints[0].Paths, r.header()), rate: r.cfg.Rate, duration: min(time.Second, r.cfg.Duration)}.run(ctx, r.prog)
		before := p.Usage()
		if r.selected("steady") {
			for _, ep := range Endpoints {
				st := load{name: "steady " + mode + " " + ep.Name, targets: targets(p.Base, ep.Paths, r.header()), rate: r.cfg.Rate, duration: r.cfg.Duration}.run(ctx, r.prog)
				rep.Steady = append(rep.Steady, Row{Mode: mode, Endpoint: ep.Name, Stats: st})
			}
			after := p.Usage()
			rep.Usage = append(rep.Usage, UsageRow{Mode: mode, Processes: len(p.Tree()),
				CPUSeconds: (after.CPU - before.CPU).Seconds(), PeakRSSMB: float64(after.PeakRSS) / (1 << 20)})
		}
		if r.selected("latency") {
			for _, ep := range Endpoints {
				st := load{name: "latency " + mode + " " + ep.Name, targets: targets(p.Base, ep.Paths, r.header()), workers: 1, duration: r.cfg.Duration / 2}.run(ctx, r.prog)
				rep.Latency = append(rep.Latency, Row{Mode: mode, Endpoint: ep.Name, Stats: st})
			}
		}
		if err := p.Stop(20 * time.Second); err != nil {
			return fmt.Errorf("stop %s: %w", mode, err)
		}
	}
	return nil
}

// restartable is a process that a scenario restarts on the same address,
// as a process supervisor (systemd, Kubernetes) would.
type restartable struct {
	r    *runner
	mode string
	args []string

	mu sync.Mutex
	p  *process.Server
}

func (rs *restartable) current() *process.Server {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.p
}

// restart starts the process again once the current one has exited.
func (rs *restartable) restart(ctx context.Context) error {
	<-rs.current().Done()
	p, err := rs.r.start(ctx, rs.mode, rs.args...)
	if err != nil {
		return err
	}
	rs.mu.Lock()
	rs.p = p
	rs.mu.Unlock()
	return nil
}

func (rs *restartable) stop() { _ = rs.current().Stop(20 * time.Second) }

// startRestartable starts mode on a fixed free address, with extra flags.
func (r *runner) startRestartable(ctx context.Context, mode string, extra ...string) (*restartable, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	rs := &restartable{r: r, mode: mode, args: append([]string{"--addr", addr}, extra...)}
	rs.p, err = r.start(ctx, mode, rs.args...)
	return rs, err
}

// isolation crashes the reviews service one Duration into a load on the
// product page three Durations long. A monolith is down until it is
// restarted (here at once, as a supervisor would); microservices keep
// answering, partially, while atrium up restarts reviews and the breaker
// lets calls to it through again.
func (r *runner) isolation(ctx context.Context, rep *Report) error {
	for _, mode := range modes {
		rs, err := r.startRestartable(ctx, mode)
		if err != nil {
			return err
		}
		base := rs.p.Base
		crashAfter := r.cfg.Duration
		var crashAt time.Time
		restarted := make(chan error, 1)
		timer := time.AfterFunc(crashAfter, func() {
			crashAt = time.Now()
			_ = r.admin(base, http.MethodPut, "/admin/services/reviews/faults", `{"crash":true}`)
			if mode == Monolith {
				restarted <- rs.restart(ctx)
			}
		})
		start := time.Now()
		st := load{name: "isolation " + mode, targets: targets(base, Endpoints[0].Paths, r.header()), rate: r.cfg.Rate, duration: 3 * r.cfg.Duration}.run(ctx, r.prog)
		timer.Stop()
		if mode == Monolith && !crashAt.IsZero() {
			if err := <-restarted; err != nil {
				return fmt.Errorf("restart the monolith: %w", err)
			}
		}
		row := IsolationRow{Mode: mode, Stats: st, RecoverySeconds: -1, CrashAt: crashAfter.Seconds()}
		if st.Requests > 0 {
			row.Availability = float64(st.OK+st.Partial) / float64(st.Requests)
			row.PartialRate = float64(st.Partial) / float64(st.Requests)
		}
		if !crashAt.IsZero() {
			since := crashAt.Sub(start).Seconds()
			for _, b := range st.Timeline {
				if b.At > since && b.Errors == 0 && b.Partial == 0 && b.OK > 0 {
					row.RecoverySeconds = b.At - since
					break
				}
			}
		}
		rep.Isolation = append(rep.Isolation, row)
		rs.stop()
	}
	return nil
}

// scaling burns CPU in every catalog call and drives the listing as fast
// as Workers clients can, in a monolith and with one and two catalog
// instances, each service process limited to one core (GOMAXPROCS=1, as a
// container's CPU quota would).
func (r *runner) scaling(ctx context.Context, rep *Report) error {
	for _, setup := range []struct {
		name, mode string
		args       []string
	}{
		{"monolith (one process, all cores)", Monolith, nil},
		{"microservices, catalog x1 (1 core each)", Microservices, []string{"--service-gomaxprocs", "1"}},
		{"microservices, catalog x2 (1 core each)", Microservices, []string{"--service-gomaxprocs", "1", "--replicas", "catalog=2"}},
	} {
		p, err := r.start(ctx, setup.mode, setup.args...)
		if err != nil {
			return err
		}
		if err := r.admin(p.Base, http.MethodPut, "/admin/services/catalog/faults", `{"cpu_ms":2}`); err != nil {
			return err
		}
		// A hundred different listings, so that identical concurrent
		// requests, which atrium coalesces into one call, stay rare.
		st := load{name: "scaling " + setup.name, targets: targets(p.Base, rotate("/api/v1/products?limit=%d", 100), r.header()), workers: uint64(r.cfg.Workers), duration: r.cfg.Duration}.run(ctx, r.prog)
		rep.Scaling = append(rep.Scaling, ScalingRow{Setup: setup.name, Stats: st})
		if err := p.Stop(20 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// deploy restarts the catalog under load on the product page: in
// microservices mode one of its two instances at a time (each deregisters,
// drains, and is started again by atrium up); in a monolith, the whole
// process.
func (r *runner) deploy(ctx context.Context, rep *Report) error {
	for _, mode := range modes {
		var extra []string
		if mode == Microservices {
			extra = []string{"--replicas", "catalog=2"}
		}
		rs, err := r.startRestartable(ctx, mode, extra...)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			time.Sleep(r.cfg.Duration / 4) // bounded: the load runs on
			if mode == Monolith {
				_ = rs.current().Cmd.Process.Signal(syscall.SIGTERM)
				done <- rs.restart(ctx)
				return
			}
			// The roll may take the rest of the load run.
			done <- r.rollCatalog(ctx, rs.current().Base, r.cfg.Duration*3/4)
		}()
		st := load{name: "deploy " + mode, targets: targets(rs.current().Base, Endpoints[0].Paths, r.header()), rate: r.cfg.Rate, duration: r.cfg.Duration}.run(ctx, r.prog)
		row := DeployRow{Mode: mode, Stats: st, Completed: true}
		if err := <-done; err != nil {
			row.Completed, row.Why = false, err.Error()
		}
		rep.Deploy = append(rep.Deploy, row)
		rs.stop()
	}
	return nil
}

// rollCatalog restarts each catalog instance in turn, waiting for its
// replacement to register before the next, within budget.
func (r *runner) rollCatalog(ctx context.Context, base string, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	old, err := r.instances(base)
	if err != nil {
		return err
	}
	for _, inst := range old {
		pid, _ := strconv.Atoi(inst.Meta["pid"])
		if err := process.Terminate(pid); err != nil {
			return err
		}
		for {
			now, err := r.instances(base)
			if err == nil && len(now) == len(old) && !has(now, inst.ID) {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("catalog %s was not replaced in time", inst.ID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
