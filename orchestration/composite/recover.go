package composite

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/orders"
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
	mu      sync.Mutex
	recent  []Recovery
	counts  map[string]int // by direction
	repairs []Repair
}

// Report is the state of the checkout runs, for the admin API.
type Report struct {
	Unfinished int            `json:"unfinished"`
	Recovered  map[string]int `json:"recovered"` // by direction, since this process started
	Recent     []Recovery     `json:"recent"`    // the last runs recovered here, newest first
	Repairs    []Repair       `json:"repairs"`   // the last repairs of the reconciler here, newest first
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
	rep.Repairs = make([]Repair, len(c.recoveries.repairs))
	for i, r := range c.recoveries.repairs {
		rep.Repairs[len(rep.Repairs)-1-i] = r
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

// Repair is one thing the reconciler put right: a charge refunded or a
// reservation released that no order and no unfinished checkout claimed.
type Repair struct {
	Kind string    `json:"kind"` // refund or release
	ID   string    `json:"id"`   // the charge or the reservation
	Key  string    `json:"key"`
	At   time.Time `json:"at"`
}

// Reconcile checks, every interval until ctx ends, the charges still
// succeeded and the reservations committed that are older than after:
// each must belong to an order (found by its key) or to a checkout run
// still unfinished in the log; one that does neither — money taken, or
// stock sold, for nothing — is refunded or released, logged, counted and
// reported. With the saga log that should not happen; the reconciler is
// the net under it (a log lost, a service restored from a backup).
func (c *Composer) Reconcile(ctx context.Context, interval, after time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.reconcilePass(ctx, time.Now().Add(-after))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Composer) reconcilePass(ctx context.Context, before time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 4*c.cfg.Deadline)
	defer cancel()
	if charges, err := c.svc.Payments.Succeeded(ctx, before, 100); err == nil {
		for _, ch := range charges {
			if c.orphan(ctx, ch.UserID, ch.Key) {
				c.repair(ctx, "refund", ch.ID, ch.Key, func(ctx context.Context) error {
					_, err := c.svc.Payments.Refund(ctx, ch.ID)
					return err
				})
			}
		}
	}
	if held, err := c.svc.Inventory.Committed(ctx, before, 100); err == nil {
		for _, r := range held {
			if c.orphan(ctx, r.UserID, r.Key) {
				c.repair(ctx, "release", r.ID, r.Key, func(ctx context.Context) error {
					_, err := c.svc.Inventory.Release(ctx, r.ID)
					return err
				})
			}
		}
	}
}

// orphan reports whether a charge or reservation made with key for user
// belongs to no order and to no unfinished checkout. Any doubt (a lookup
// that fails) is not an orphan.
func (c *Composer) orphan(ctx context.Context, user, key string) bool {
	if key == "" {
		return false // not a checkout's
	}
	if _, err := c.svc.Orders.ByKey(ctx, key); !errors.Is(err, orders.ErrNotFound) {
		return false
	}
	e, err := c.log.Get(ctx, user+"/"+key)
	switch {
	case errors.Is(err, sagalog.ErrNotFound):
		return true
	case err != nil || !e.Done:
		return false
	}
	return true // the run finished without an order: its undo did not hold
}

func (c *Composer) repair(ctx context.Context, kind, id, key string, fix func(context.Context) error) {
	if err := c.rt.Compensate(serviceOf(kind), fix); err != nil {
		c.cfg.Logger.WarnContext(ctx, "reconciler: repair failed", "kind", kind, "id", id, "err", err)
		return
	}
	c.cfg.Logger.WarnContext(ctx, "reconciler repaired", "kind", kind, "id", id, "key", key)
	c.rt.Repaired(ctx, kind)
	r := &c.recoveries
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repairs = append(r.repairs, Repair{Kind: kind, ID: id, Key: key, At: time.Now().UTC()})
	if len(r.repairs) > 50 {
		r.repairs = r.repairs[1:]
	}
}

func serviceOf(kind string) string {
	if kind == "refund" {
		return services.Payments
	}
	return services.Inventory
}
