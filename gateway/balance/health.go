package balance

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrium-bff/atrium/registry"
)

// Health says which instances may take requests: an active check (each
// instance's /readyz, every interval) and passive outlier ejection
// (consecutive failed requests eject an instance for a back-off period,
// doubling while it keeps failing). The zero value ejects after 3 failures
// for 2 s at first, up to 30 s, and marks an instance down after 2 failed
// checks in a row.
type Health struct {
	// DownAfter consecutive failed checks mark an instance down [2]; one
	// check that passes marks it up again.
	DownAfter int
	// EjectAfter consecutive failures eject an instance [3].
	EjectAfter int
	// EjectFor is the first ejection's length [2s]; each ejection that
	// follows a failure right after the last doubles it, up to 30 s.
	EjectFor time.Duration

	mu    sync.Mutex
	state map[string]*instanceHealth
	any   atomic.Bool // some instance may be unavailable: filter pools
}

type instanceHealth struct {
	failures int
	until    time.Time // ejected until
	backoff  time.Duration
	down     bool // the active check failed DownAfter times in a row
	missed   int  // consecutive failed checks
}

func (h *Health) get(id string) *instanceHealth {
	if h.state == nil {
		h.state = map[string]*instanceHealth{}
	}
	s, ok := h.state[id]
	if !ok {
		s = &instanceHealth{}
		h.state[id] = s
	}
	return s
}

// Report records the outcome of a request to instance id: ok is false for
// a request that got no response or a 502/503/504.
func (h *Health) Report(id string, ok bool) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(id)
	if ok {
		s.failures = 0
		return
	}
	s.failures++
	after := h.EjectAfter
	if after == 0 {
		after = 3
	}
	if s.failures < after {
		return
	}
	first := h.EjectFor
	if first == 0 {
		first = 2 * time.Second
	}
	now := time.Now()
	switch {
	case s.backoff == 0 || now.After(s.until.Add(s.backoff)):
		s.backoff = first // healthy for a while since: start over
	default:
		s.backoff = min(2*s.backoff, 30*time.Second)
	}
	s.until = now.Add(s.backoff)
	s.failures = 0
	h.any.Store(true)
}

// Refused takes out at once an instance that refused a connection: a
// process that is gone (until the registry forgets it) or not yet up. The
// next active check that passes puts it back.
func (h *Health) Refused(id string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(id)
	s.down = true
	h.any.Store(true)
}

// checked records the outcome of one active check of instance id.
func (h *Health) checked(id string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(id)
	if ok {
		s.missed, s.down = 0, false
		return
	}
	s.missed++
	after := h.DownAfter
	if after == 0 {
		after = 2
	}
	if s.missed >= after {
		s.down = true
		h.any.Store(true)
	}
}

// Available returns the instances of pool that may take requests: all of
// them when none is ejected or down, and all of them too when every one is
// (better to try than to fail for sure).
func (h *Health) Available(pool []registry.Instance) []registry.Instance {
	if h == nil || !h.any.Load() {
		return pool
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	var out []registry.Instance
	unavailable := false
	for _, inst := range pool {
		if s, ok := h.state[inst.ID]; ok && (s.down || now.Before(s.until)) {
			unavailable = true
			continue
		}
		out = append(out, inst)
	}
	if !unavailable {
		h.clearIfAllWell(now)
		return pool
	}
	if len(out) == 0 {
		return pool
	}
	return out
}

// clearIfAllWell turns the fast path back on when no instance anywhere is
// down or ejected; the caller holds h.mu.
func (h *Health) clearIfAllWell(now time.Time) {
	for _, s := range h.state {
		if s.down || now.Before(s.until) {
			return
		}
	}
	h.any.Store(false)
}

// forget drops what is known of instances no longer listed (a restarted
// instance comes back under a new id), so the state stays bounded.
func (h *Health) forget(live []registry.Instance) {
	ids := make(map[string]bool, len(live))
	for _, inst := range live {
		ids[inst.ID] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.state {
		if !ids[id] {
			delete(h.state, id)
		}
	}
}

// Check probes GET /readyz of every instance list returns, every interval,
// with a timeout of half the interval, until ctx is done. An instance that
// does not answer 200 DownAfter times in a row is down until it does.
func (h *Health) Check(ctx context.Context, list func() []registry.Instance, interval time.Duration) {
	client := &http.Client{Timeout: interval / 2}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		insts := list()
		h.forget(insts)
		var wg sync.WaitGroup
		for _, inst := range insts {
			wg.Go(func() {
				resp, err := client.Get("http://" + inst.HostPort() + "/readyz")
				if err == nil { // read to the end, so that the connection is kept for the next check
					_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
					resp.Body.Close()
				}
				h.checked(inst.ID, err == nil && resp.StatusCode == http.StatusOK)
			})
		}
		wg.Wait()
	}
}
