package compare

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is what a comparison measured.
type Report struct {
	When       time.Time       `json:"when"`
	Command    string          `json:"command"`
	Machine    Machine         `json:"machine"`
	Duration   string          `json:"duration"`
	Rate       int             `json:"rate"`
	Workers    int             `json:"workers"`
	Steady     []Row           `json:"steady"`
	Usage      []UsageRow      `json:"usage"`
	Latency    []Row           `json:"latency"`
	Isolation  []IsolationRow  `json:"isolation"`
	Scaling    []ScalingRow    `json:"scaling"`
	Deploy     []DeployRow     `json:"deploy"`
	Saturation []SaturationRow `json:"saturation"`
	Proxy      []ProxyRow      `json:"proxy"`
	Checkout   []CheckoutRow   `json:"checkout"`
	Storage    []StorageRow    `json:"storage"`
	// StorageNotRun says why the storage scenario did not run, when it
	// was selected and did not.
	StorageNotRun string `json:"storage_not_run,omitempty"`
}

// Machine describes where the comparison ran.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
}

// Row is one endpoint measured in one mode.
type Row struct {
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint"`
	Stats
}

// UsageRow is what all of a mode's processes used during the steady runs.
type UsageRow struct {
	Mode       string  `json:"mode"`
	Processes  int     `json:"processes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
}

// IsolationRow is the failure-isolation run of one mode.
type IsolationRow struct {
	Mode            string  `json:"mode"`
	CrashAt         float64 `json:"crash_at_s"`
	Availability    float64 `json:"availability"`
	PartialRate     float64 `json:"partial_rate"`
	RecoverySeconds float64 `json:"recovery_s"` // -1: not within the run
	Stats
}

// ScalingRow is one setup of the scaling run.
type ScalingRow struct {
	Setup string `json:"setup"`
	Stats
}

// DeployRow is the rolling-restart run of one mode.
type DeployRow struct {
	Mode      string `json:"mode"`
	Completed bool   `json:"completed"`
	// Why is why the restart did not complete, when it did not.
	Why string `json:"why,omitempty"`
	Stats
}

// Write writes the report as Markdown to path, the raw figures as JSON
// beside it (same name, .json), and the charts as SVG files in a folder
// beside it (same name without the extension).
func (rep *Report) Write(path string) error {
	base := strings.TrimSuffix(path, filepath.Ext(path))
	charts := base
	if err := os.MkdirAll(charts, 0o755); err != nil {
		return err
	}
	files, err := rep.charts(charts)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	rel := func(f string) string { r, _ := filepath.Rel(filepath.Dir(path), f); return filepath.ToSlash(r) }
	var relFiles []string
	for _, f := range files {
		relFiles = append(relFiles, rel(f))
	}
	return os.WriteFile(path, []byte(rep.Markdown(relFiles)), 0o644)
}

func ms(v float64) string  { return fmt.Sprintf("%.2f", v) }
func pct(v float64) string { return fmt.Sprintf("%.2f%%", v*100) }

// Markdown renders the report; charts are the chart files, relative to it.
func (rep *Report) Markdown(charts []string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Monolith versus microservices, measured\n\n")
	w("Both architectures ran on this machine in one run, one after the other, with the same seed data, the same\n")
	w("endpoints and the same load; warm-up excluded. Composites ran **without the response cache** (`--no-cache`), so\n")
	w("every request makes its downstream calls: in-process in the monolith, over loopback HTTP in microservices.\n\n")
	w("- When: %s\n- Command: `%s`\n- Machine: %d cores, GOMAXPROCS %d, %s, %s\n", rep.When.Format(time.RFC3339), rep.Command,
		rep.Machine.Cores, rep.Machine.GOMAXPROCS, rep.Machine.GoVersion, rep.Machine.OS)
	w("- Each run: %s; open-loop rate %d req/s; closed-loop concurrency %d\n\n", rep.Duration, rep.Rate, rep.Workers)

	if len(rep.Steady) > 0 {
		w("## 1. Steady load (%d req/s)\n\n", rep.Rate)
		w("| endpoint | mode | throughput req/s | p50 ms | p95 ms | p99 ms | max ms | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Steady {
			w("| %s | %s | %.1f | %s | %s | %s | %s | %s |\n", r.Endpoint, r.Mode, r.Throughput, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), pct(r.ErrorRate))
		}
		w("\n| mode | processes | CPU seconds (all processes) | peak RSS MB (sum of processes) |\n|---|---:|---:|---:|\n")
		for _, u := range rep.Usage {
			w("| %s | %d | %.2f | %.1f |\n", u.Mode, u.Processes, u.CPUSeconds, u.PeakRSSMB)
		}
		w("\n")
	}
	if len(rep.Latency) > 0 {
		w("## 2. Latency budget (one request at a time)\n\nWhat the network hops and serialisation of microservices add over in-process calls.\n\n")
		w("| endpoint | monolith p50 ms | microservices p50 ms | added p50 ms | monolith p95 ms | microservices p95 ms |\n|---|---:|---:|---:|---:|---:|\n")
		for _, ep := range Endpoints {
			m, s := find(rep.Latency, Monolith, ep.Name), find(rep.Latency, Microservices, ep.Name)
			if m == nil || s == nil {
				continue
			}
			w("| %s | %s | %s | %s | %s | %s |\n", ep.Name, ms(m.P50), ms(s.P50), ms(s.P50-m.P50), ms(m.P95), ms(s.P95))
		}
		w("\n")
	}
	if len(rep.Isolation) > 0 {
		w("## 3. Failure isolation (reviews crashes under load)\n\n")
		w("The reviews service is crashed (`{\"crash\":true}`) one run-length into a load on the product page three run-lengths long. The monolith\n")
		w("is the whole server: it is down until restarted (here at once, as a supervisor would). In microservices mode the\n")
		w("product page keeps answering with `partial: true` while `atrium up` restarts reviews; it is whole again once the\n")
		w("reviews circuit breaker, open since the crash, lets calls through after its cooldown (5 s by default).\n\n")
		w("| mode | availability | partial answers | errors | time to recover s |\n|---|---:|---:|---:|---:|\n")
		for _, r := range rep.Isolation {
			rec := "not within the run"
			if r.RecoverySeconds >= 0 {
				rec = fmt.Sprintf("%.2f", r.RecoverySeconds)
			}
			w("| %s | %s | %s | %s | %s |\n", r.Mode, pct(r.Availability), pct(r.PartialRate), pct(r.ErrorRate), rec)
		}
		w("\n")
	}
	if len(rep.Scaling) > 0 {
		w("## 4. Independent scaling (CPU-heavy catalog)\n\n")
		w("Every catalog call burns 2 ms of CPU; %d clients request a hundred different listings as fast as they can. Each service process of\n", rep.Workers)
		w("the microservices is limited to one core (GOMAXPROCS=1, as a container's CPU quota would); the monolith uses all.\n\n")
		w("| setup | throughput req/s | p50 ms | p95 ms | errors |\n|---|---:|---:|---:|---:|\n")
		for _, r := range rep.Scaling {
			w("| %s | %.1f | %s | %s | %s |\n", r.Setup, r.Throughput, ms(r.P50), ms(r.P95), pct(r.ErrorRate))
		}
		w("\n")
	}
	if len(rep.Deploy) > 0 {
		w("## 5. Independent deploy (restart the catalog under load)\n\n")
		w("Microservices: each of two catalog instances in turn gets SIGTERM, deregisters, drains, and is started again.\n")
		w("Monolith: deploying the catalog means restarting the whole process.\n\n")
		w("| mode | requests | failed | error rate | restart completed |\n|---|---:|---:|---:|---|\n")
		for _, r := range rep.Deploy {
			w("| %s | %d | %d | %s | %v |\n", r.Mode, r.Requests, r.Errors, pct(r.ErrorRate), r.Completed)
		}
		w("\n")
		for _, r := range rep.Deploy {
			if r.Why != "" {
				w("The %s restart did not complete: %s.\n\n", r.Mode, r.Why)
			}
		}
	}
	if len(rep.Saturation) > 0 {
		w("## 6. Saturation (product pages over random ids, at capacity)\n\n")
		w("A closed loop of %d clients asks for the page of a random product each time, so that identical reads seldom\n", rep.Workers)
		w("coincide and every page makes its downstream calls. CPU is per answered page, from /proc: all processes, and\n")
		w("the gateway's own (the `atrium up` process, or the monolith); per downstream call for the gateway and, in\n")
		w("microservices mode, for the services that answered. Idle is the machine's idle share during the run.\n\n")
		w("| mode | pages/s | p50 ms | p99 ms | calls/page | CPU ms/page (all) | gateway CPU ms/page | gateway CPU µs/call | service CPU µs/call | idle |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Saturation {
			w("| %s | %.0f | %s | %s | %.2f | %.3f | %.3f | %.1f | %.1f | %.0f%% |\n", r.Mode, r.Throughput, ms(r.P50), ms(r.P99),
				r.CallsPerPage, r.CPUPerPageMS, r.GatewayCPUPerPageMS, r.GatewayCPUPerCallUS, r.ServiceCPUPerCallUS, r.Idle*100)
		}
		w("\n")
	}
	if len(rep.Proxy) > 0 {
		w("## 7. The API proxy beside nginx (one catalog instance, at capacity)\n\n")
		w("`GET /services/catalog/products/p001` through atrium's proxy, through nginx (keep-alive upstream, the same\n")
		w("service credential) and through the *Go net/http floor* — `httputil.ReverseProxy` on the same server settings\n")
		w("as atrium's, the path cut and the credential set, and nothing else: the least any proxy on net/http costs —\n")
		w("%d clients, two runs each after a warm-up, alternating. CPU is the proxy processes'.\n\n", rep.Workers)
		w("| proxy | req/s | p50 ms | p99 ms | CPU µs/request | idle |\n|---|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Proxy {
			w("| %s | %.0f | %s | %s | %.1f | %.0f%% |\n", r.Proxy, r.Throughput, ms(r.P50), ms(r.P99), r.CPUPerRequestUS, r.Idle*100)
		}
		w("\n")
	}
	if len(rep.Checkout) > 0 {
		w("## 8. The checkout, orchestrated or choreographed (microservices)\n\n")
		w("A closed loop of checkouts, one client per seed user (%d), each adding an item and checking out, for the run's\n", checkoutUsers)
		w("duration or %d orders; *done* is until the order is paid for and its stock committed (the saga's answer; the\n", checkoutOrders)
		w("choreography's last event, read from the order's event stream). Then inventory is frozen for 5 s, and 1 s into\n")
		w("it every user checks a full cart out once.\n\n")
		w("| checkout | orders/s | answer p50 ms | answer p99 ms | done p50 ms | done p99 ms | errors | inventory down: accepted | completed | longest wait ms |\n")
		w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.Checkout {
			w("| %s | %.0f | %s | %s | %s | %s | %d | %d/%d | %d/%d | %.0f |\n", r.Style, r.Throughput, ms(r.AnswerP50), ms(r.AnswerP99),
				ms(r.DoneP50), ms(r.DoneP99), r.Errors, r.OutageAccepted, r.OutageTried, r.OutageCompleted, r.OutageTried, r.OutageDoneMaxMS)
		}
		w("\n")
	}
	if len(rep.Storage) > 0 || rep.StorageNotRun != "" {
		w("## 9. State on SQLite or PostgreSQL (microservices)\n\n")
		w("The same topology (`atrium up`), its stateful services' state in SQLite files in the data directory (the default),\n")
		w("then in PostgreSQL on loopback (`--database`, a schema per service, SERIALIZABLE transactions), at %d req/s.\n", rep.Rate)
		w("The product page reads the stock (inventory); the dashboard the cart and the orders.\n\n")
		if rep.StorageNotRun != "" {
			w("Not run: %s.\n\n", rep.StorageNotRun)
		}
		if len(rep.Storage) > 0 {
			w("| endpoint | state | throughput req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|---:|\n")
			for _, r := range rep.Storage {
				w("| %s | %s | %.1f | %s | %s | %s | %s |\n", r.Endpoint, r.Engine, r.Throughput, ms(r.P50), ms(r.P95), ms(r.P99), pct(r.ErrorRate))
			}
			w("\n")
		}
	}
	if len(charts) > 0 {
		w("## Charts\n\n")
		for _, c := range charts {
			w("![%s](%s)\n\n", strings.TrimSuffix(filepath.Base(c), ".svg"), c)
		}
	}
	w("Reproduce with `make compare` (about four minutes); the raw figures are in the JSON file beside this one.\n")
	return b.String()
}

func find(rows []Row, mode, endpoint string) *Row {
	for i := range rows {
		if rows[i].Mode == mode && rows[i].Endpoint == endpoint {
			return &rows[i]
		}
	}
	return nil
}
