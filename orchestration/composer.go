package orchestration

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/recommendations"
	"github.com/atrium-bff/atrium/services/reviews"
	"github.com/atrium-bff/atrium/services/users"
)

// Services are the downstream services the composites call: in-process
// implementations in a monolith, HTTP clients in microservices mode.
type Services struct {
	Catalog         catalog.Service
	Inventory       inventory.Service
	Reviews         reviews.Service
	Users           users.Service
	Cart            cart.Service
	Orders          orders.Service
	Payments        payments.Service
	Recommendations recommendations.Service
}

// Config tunes the composites. Zero fields take the defaults in brackets.
type Config struct {
	// Deadline bounds a whole composite, and is propagated downstream [2s].
	Deadline time.Duration
	// CallTimeout bounds each attempt of a downstream call [800ms]; keep it
	// below Deadline so that a composite can answer partially in time.
	CallTimeout time.Duration
	// Retries is how many more attempts a failed read may make [2].
	// Negative means none.
	Retries int
	// CacheTTL is how long answers that change rarely (products, reviews,
	// users, recommendations) stay fresh in the cache [30s]; stock stays
	// fresh for at most a second. After that an answer is kept an hour more
	// to serve when its service fails (stale-if-error).
	CacheTTL time.Duration
	// NoCache turns the response cache off (coalescing stays).
	NoCache bool
	// Hedge hedges reads [off].
	Hedge bool
	// Runtime tunes breakers, retry budgets and the call hook.
	Runtime RuntimeConfig
}

// Composer serves the composite endpoints over Services.
type Composer struct {
	svc Services
	cfg Config
	rt  *Runtime

	productPage *Plan[pageState]
	listing     *Plan[listingState]
	dashboard   *Plan[dashboardState]
	cartView    *Plan[cartState]
	editCart    *Plan[editState]
	cartChange  *Plan[changeState]
	checkouts   *checkouts
}

// New returns a Composer over svc.
func New(svc Services, cfg Config) *Composer {
	if cfg.Deadline == 0 {
		cfg.Deadline = 2 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 800 * time.Millisecond
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 2
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	c := &Composer{svc: svc, cfg: cfg, rt: NewRuntime(cfg.Runtime)}
	c.productPage = c.productPagePlan()
	c.listing = c.listingPlan()
	c.dashboard = c.dashboardPlan()
	c.cartView = c.cartPlan()
	c.editCart = c.editCartPlan()
	c.cartChange = c.cartChangePlan()
	c.checkouts = newCheckouts()
	return c
}

// Runtime returns the runtime the composites share, for inspection.
func (c *Composer) Runtime() *Runtime { return c.rt }

// read is the policy of a read: retried, cached for ttl (and an hour more to
// serve stale when the service fails), hedged when configured.
func (c *Composer) read(required bool, ttl time.Duration) Policy {
	if c.cfg.NoCache {
		ttl = 0
	}
	stale := time.Duration(0)
	if ttl > 0 {
		stale = time.Hour
	}
	return Policy{Required: required, Timeout: c.cfg.CallTimeout, Retries: c.cfg.Retries,
		CacheTTL: ttl, StaleTTL: stale, Hedge: c.cfg.Hedge}
}

// write is the policy of a call with effects.
func (c *Composer) write() Policy {
	return Policy{Required: true, Timeout: c.cfg.CallTimeout}
}

// stockTTL is how long a stock level stays fresh: at most a second.
func (c *Composer) stockTTL() time.Duration { return min(c.cfg.CacheTTL, time.Second) }

// compose runs plan p over s as the composite name: in its span, within the
// composite deadline.
func compose[S any](ctx context.Context, c *Composer, name string, p *Plan[S], s *S) (Meta, error) {
	ctx, span := c.rt.composite(ctx, name)
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	return p.Run(ctx, s)
}

// Authenticate checks a user's credentials with the users service.
func (c *Composer) Authenticate(ctx context.Context, email, password string) (users.User, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	return c.svc.Users.Authenticate(ctx, email, password)
}

// User returns a user's profile.
func (c *Composer) User(ctx context.Context, id string) (users.User, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Deadline)
	defer cancel()
	return c.svc.Users.User(ctx, id)
}
