package composite

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
)

// Recovery is one run that this process took over from a process that
// died, and where it drove it.
type Recovery struct {
	ID        string    `json:"id"`
	Direction string    `json:"direction"` // forward or backward
	Outcome   string    `json:"outcome"`   // finished, or why not yet
	At        time.Time `json:"at"`
}

// recoveries keeps the last runs taken over, for the admin API.
type recoveries struct {
	mu     sync.Mutex
	recent []Recovery
	counts map[string]int // by direction
}

// Report is the state of the checkout runs, for the admin API.
type Report struct {
	Unfinished int            `json:"unfinished"`
	Recovered  map[string]int `json:"recovered"` // by direction, since this process started
	Recent     []Recovery     `json:"recent"`    // the last runs recovered here, newest first
}

// Runs reports the checkout runs: how many are unfinished in the log, and
// the ones this process recovered.
func (c *Composer) Runs(ctx context.Context) (Report, error) {
	n, err := c.log.Unfinished(ctx)
	if err != nil {
		return Report{}, err
	}
	c.recoveries.mu.Lock()
	defer c.recoveries.mu.Unlock()
	rep := Report{Unfinished: n, Recovered: map[string]int{}, Recent: make([]Recovery, len(c.recoveries.recent))}
	for k, v := range c.recoveries.counts {
		rep.Recovered[k] = v
	}
	for i, r := range c.recoveries.recent {
		rep.Recent[len(rep.Recent)-1-i] = r
	}
	return rep, nil
}

// recovered notes a run taken over: in the log, the counts and the metric.
func (c *Composer) recovered(ctx context.Context, id, direction string, err error) {
	outcome := "finished"
	if errors.Is(err, orchestration.ErrNotYet) {
		outcome = "not yet: " + err.Error()
	}
	c.cfg.Logger.InfoContext(ctx, "saga recovered", "saga", "checkout", "run", id, "direction", direction, "outcome", outcome)
	c.rt.Recovered(ctx, "checkout", direction)
	r := &c.recoveries
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[direction]++
	r.recent = append(r.recent, Recovery{ID: id, Direction: direction, Outcome: outcome, At: time.Now().UTC()})
	if len(r.recent) > 50 {
		r.recent = r.recent[1:]
	}
}

// Recover finishes, every interval until ctx ends, the checkout runs whose
// process died: each unfinished run whose claim has expired is claimed and
// driven to its end — forward when its stock was committed, backward
// otherwise. It runs one pass at once, so a restarted gateway finishes what
// it left.
func (c *Composer) Recover(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.recoverPass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Composer) recoverPass(ctx context.Context) {
	ids, err := c.log.Stale(ctx, 20)
	if err != nil {
		c.cfg.Logger.WarnContext(ctx, "saga recovery: cannot read the log", "err", err)
		return
	}
	for _, id := range ids {
		e, claimed, err := c.log.Claim(ctx, id, c.owner, c.cfg.Lease, nil)
		if err != nil || !claimed || e.Done {
			continue // another process was quicker
		}
		var s checkoutState
		if err := json.Unmarshal(e.State, &s); err != nil {
			c.cfg.Logger.ErrorContext(ctx, "saga recovery: unreadable state", "run", id, "err", err)
			continue
		}
		_, _ = c.drive(ctx, id, s, &e.Run)
	}
}

// plainAnswer is the Answer of a Composer that was given none: 201 and the
// checkout as JSON, or 500 and the error's text.
func plainAnswer(res Checkout, err error) (int, []byte) {
	if err != nil {
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		return http.StatusInternalServerError, b
	}
	b, _ := json.Marshal(res)
	return http.StatusCreated, b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
