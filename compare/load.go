package compare

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Stats are what one load run measured.
type Stats struct {
	Requests   int     `json:"requests"`
	OK         int     `json:"ok"`      // 2xx, whole
	Partial    int     `json:"partial"` // 2xx with "partial": true
	Errors     int     `json:"errors"`  // everything else, transport errors included
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"` // answered (OK or partial) per second
	ErrorRate  float64 `json:"error_rate"`
	P50        float64 `json:"p50_ms"`
	P95        float64 `json:"p95_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	// Idle is the machine's idle share of CPU time during the run (from
	// /proc/stat; zero where there is none): how much the load generator
	// and the servers left, on a machine they share.
	Idle float64 `json:"idle"`
	// Timeline counts outcomes in buckets of TimelineStep from the start.
	Timeline []Bucket `json:"timeline,omitempty"`
	// Quantiles are latency quantiles (ms) for the distribution chart.
	Quantiles []Quantile `json:"quantiles,omitempty"`

	hist *hdr.Histogram
}

// Bucket is one slice of a run's time line.
type Bucket struct {
	At      float64 `json:"at_s"`
	OK      int     `json:"ok"`
	Partial int     `json:"partial"`
	Errors  int     `json:"errors"`
}

// Quantile is a latency at a quantile.
type Quantile struct {
	Q  float64 `json:"q"`
	MS float64 `json:"ms"`
}

// TimelineStep is the width of a time-line bucket.
const TimelineStep = 250 * time.Millisecond

// load is one load run: targets hit at a constant rate (rate > 0) or as
// fast as workers allow (rate 0, a closed loop), for a bounded duration.
type load struct {
	name     string
	targets  []vegeta.Target
	targeter vegeta.Targeter // instead of the targets, when set
	rate     int
	workers  uint64
	duration time.Duration
}

// run attacks until the duration ends or ctx is done, reporting live
// counts to prog.
func (l load) run(ctx context.Context, prog *progress) Stats {
	opts := []func(*vegeta.Attacker){vegeta.Timeout(5 * time.Second), vegeta.KeepAlive(true), vegeta.Connections(512)}
	pacer := vegeta.Pacer(vegeta.Rate{Freq: l.rate, Per: time.Second})
	if l.rate == 0 {
		opts = append(opts, vegeta.Workers(l.workers), vegeta.MaxWorkers(l.workers))
		pacer = vegeta.Rate{Freq: 0}
	} else {
		opts = append(opts, vegeta.Workers(8), vegeta.MaxWorkers(256))
	}
	atk := vegeta.NewAttacker(opts...)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	prog.begin(l.name, l.duration)
	defer prog.end()

	st := Stats{hist: hdr.New(1, int64(30*time.Second/time.Microsecond), 3)}
	idle, total := cpuTimes()
	start := time.Now()
	tr := l.targeter
	if tr == nil {
		tr = vegeta.NewStaticTargeter(l.targets...)
	}
	for res := range atk.Attack(tr, pacer, l.duration, l.name) {
		st.add(res, start)
		prog.count(res.Code >= 200 && res.Code < 300)
	}
	st.Seconds = time.Since(start).Seconds()
	if idle2, total2 := cpuTimes(); total2 > total {
		st.Idle = float64(idle2-idle) / float64(total2-total)
	}
	st.finish()
	return st
}

// cpuTimes reads the machine's idle and total CPU time, in clock ticks,
// from the first line of /proc/stat; zeros where it cannot.
func cpuTimes() (idle, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total
}

func (st *Stats) add(res *vegeta.Result, start time.Time) {
	st.Requests++
	i := int(res.Timestamp.Sub(start) / TimelineStep)
	for len(st.Timeline) <= i {
		st.Timeline = append(st.Timeline, Bucket{At: float64(len(st.Timeline)) * TimelineStep.Seconds()})
	}
	b := &st.Timeline[i]
	switch {
	case res.Error != "" || res.Code < 200 || res.Code >= 300:
		st.Errors++
		b.Errors++
		return // a failure's latency is not the service's
	case bytes.Contains(res.Body, []byte(`"partial":true`)):
		st.Partial++
		b.Partial++
	default:
		st.OK++
		b.OK++
	}
	_ = st.hist.RecordValue(max(res.Latency.Microseconds(), 1))
}

func (st *Stats) finish() {
	ms := func(q float64) float64 { return float64(st.hist.ValueAtQuantile(q)) / 1000 }
	if st.Seconds > 0 {
		st.Throughput = float64(st.OK+st.Partial) / st.Seconds
	}
	if st.Requests > 0 {
		st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	}
	st.P50, st.P95, st.P99, st.Max = ms(50), ms(95), ms(99), float64(st.hist.Max())/1000
	for _, q := range []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100} {
		st.Quantiles = append(st.Quantiles, Quantile{Q: q, MS: ms(q)})
	}
}

// targets makes GET targets for base+path for each of paths, with the
// header (the admin token, so that the dashboard may be read for any user).
func targets(base string, paths []string, header http.Header) []vegeta.Target {
	out := make([]vegeta.Target, len(paths))
	for i, p := range paths {
		out[i] = vegeta.Target{Method: http.MethodGet, URL: base + p, Header: header}
	}
	return out
}

// counter is a live count of a run's answers.
type counter struct{ ok, failed atomic.Int64 }
