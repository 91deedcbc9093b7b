// Package composite holds the store's composites, each in its own file:
// the product page, the listing, search, the dashboard, the priced cart
// and its edits, and the checkout saga. Each is declared with the orchestration
// engine (a Plan of reads, or a Saga of steps with their undos) against the
// services' contracts in a services.Set, so the same composite runs over
// in-process services and over HTTP clients. It knows no HTTP: the edge's
// handlers (package gateway) serve it.
package composite

import (
	"context"
	"log/slog"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/users"
	"golang.org/x/sync/singleflight"
)

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
	// Runtime tunes breakers, retry budgets and the call hook. Its
	// Services is set to services.Names.
	Runtime orchestration.RuntimeConfig
	// Log keeps the checkout runs [a sagalog.Memory: this process only].
	Log CheckoutLog
	// Owner names this process in the log's claims [a random name].
	Owner string
	// Lease is how long a claim on a run lives unless renewed; another
	// process takes over a run whose claim expired [5s].
	Lease time.Duration
	// Answer renders a checkout's result, or its error, as the status and
	// body its client is given (and given again for the same key)
	// [201 and the JSON of the Checkout; 500 and the error's text].
	Answer func(Checkout, error) (status int, body []byte)
	// Logger reports recovered runs [slog.Default()].
	Logger *slog.Logger
}

// Result is a composite's answer. Metadata returns its _meta: how each
// source went.
type Result interface {
	Metadata() orchestration.Meta
}

// The composites' answers are Results.
func (p ProductPage) Metadata() orchestration.Meta { return p.Meta }
func (l Listing) Metadata() orchestration.Meta     { return l.Meta }
func (d Dashboard) Metadata() orchestration.Meta   { return d.Meta }
func (r CartResult) Metadata() orchestration.Meta  { return r.Meta }
func (c Checkout) Metadata() orchestration.Meta    { return c.Meta }

// Composer serves the composites over a services.Set.
type Composer struct {
	svc services.Set
	cfg Config
	rt  *orchestration.Runtime

	productPage sparse[pageState]
	listing     sparse[listingState]
	dashboard   sparse[dashboardState]
	cartView    *orchestration.Plan[cartState]
	editCart    *orchestration.Plan[editState]
	cartChange  *orchestration.Plan[changeState]
	checkout    *orchestration.Saga[checkoutState]
	log         CheckoutLog
	owner       string
	flights     singleflight.Group // concurrent checkouts of one key in this process
	recoveries  recoveries
	login       *orchestration.Plan[loginState]
	profile     *orchestration.Plan[profileState]
	setPrice    *orchestration.Plan[priceState]
	search      *orchestration.Plan[searchState]
	place       *orchestration.Plan[checkoutState]
	order       *orchestration.Plan[orderState]
	watchers    watchers
}

// New returns a Composer over svc.
func New(svc services.Set, cfg Config) *Composer {
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
	if cfg.Log == nil {
		cfg.Log = new(sagalog.Memory)
	}
	if cfg.Owner == "" {
		cfg.Owner = newKey()
	}
	if cfg.Lease == 0 {
		cfg.Lease = 5 * time.Second
	}
	if cfg.Answer == nil {
		cfg.Answer = plainAnswer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Runtime.Services = services.Names
	c := &Composer{svc: svc, cfg: cfg, rt: orchestration.NewRuntime(cfg.Runtime), log: cfg.Log, owner: cfg.Owner}
	c.productPage = sparsePlans(c.productPagePlan(), PageParts)
	c.listing = sparsePlans(c.listingPlan(), ListingParts)
	c.dashboard = sparsePlans(c.dashboardPlan(), DashboardParts)
	c.cartView = c.cartPlan()
	c.editCart = c.editCartPlan()
	c.cartChange = c.cartChangePlan()
	c.checkout = c.checkoutSaga()
	c.login, c.profile = c.loginPlan(), c.profilePlan()
	c.setPrice = c.setPricePlan()
	c.search = c.searchPlan()
	c.place, c.order = c.placePlan(), c.orderPlan()
	return c
}

// read is the policy of a read: retried, cached for ttl (and an hour more to
// serve stale when the service fails), hedged when configured.
func (c *Composer) read(required bool, ttl time.Duration) orchestration.Policy {
	if c.cfg.NoCache {
		ttl = 0
	}
	stale := time.Duration(0)
	if ttl > 0 {
		stale = time.Hour
	}
	return orchestration.Policy{Required: required, Timeout: c.cfg.CallTimeout, Retries: c.cfg.Retries,
		CacheTTL: ttl, StaleTTL: stale, Hedge: c.cfg.Hedge}
}

// write is the policy of a call with effects.
func (c *Composer) write() orchestration.Policy {
	return orchestration.Policy{Required: true, Timeout: c.cfg.CallTimeout}
}

// stockTTL is how long a stock level stays fresh: at most a second.
func (c *Composer) stockTTL() time.Duration { return min(c.cfg.CacheTTL, time.Second) }

// compose runs plan p over s as the composite name, within the composite
// deadline.
func compose[S any](ctx context.Context, c *Composer, name string, p *orchestration.Plan[S], s *S) (orchestration.Meta, error) {
	return orchestration.Compose(ctx, name, c.cfg.Deadline, p, s)
}

type loginState struct {
	email, password string
	user            users.User
}

// loginPlan checks credentials with the users service: a call with no
// retry (a password guess is not repeated), under the composite deadline.
func (c *Composer) loginPlan() *orchestration.Plan[loginState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Do[loginState]{Name: "authenticate", Service: services.Users,
			Policy: orchestration.Policy{Required: true, Timeout: c.cfg.Deadline},
			Run: func(ctx context.Context, s *loginState) (err error) {
				s.user, err = c.svc.Users.Authenticate(ctx, s.email, s.password)
				return err
			}})
}

type profileState struct {
	id   string
	user users.User
}

func (c *Composer) profilePlan() *orchestration.Plan[profileState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[profileState, users.User]{Name: "user", Service: services.Users, Policy: c.read(true, c.cfg.CacheTTL),
			Key: func(s *profileState) string { return s.id },
			Get: func(ctx context.Context, s *profileState) (users.User, error) { return c.svc.Users.User(ctx, s.id) },
			Set: func(s *profileState, v users.User) { s.user = v }})
}

// Heal gives service a fresh circuit breaker: for a service that has a
// new instance (a restart), so that calls go to it at once.
func (c *Composer) Heal(service string) { c.rt.Heal(service) }

// Authenticate checks a user's credentials with the users service. Wrong
// credentials are users.ErrBadCredentials; a users service that fails or
// is slow is an *orchestration.SourceError, like any required source's.
func (c *Composer) Authenticate(ctx context.Context, email, password string) (users.User, error) {
	s := loginState{email: email, password: password}
	_, err := compose(ctx, c, "login", c.login, &s)
	return s.user, err
}

// User returns a user's profile.
func (c *Composer) User(ctx context.Context, id string) (users.User, error) {
	s := profileState{id: id}
	_, err := compose(ctx, c, "profile", c.profile, &s)
	return s.user, err
}
