package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/gateway/limit"
	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
	"github.com/atrium-bff/atrium/services"
)

// policyFlags are the orchestration policies of a server that composes
// (monolith, gateway, up).
type policyFlags struct {
	deadline, callTimeout, cacheTTL, breakerCooldown time.Duration
	proxyTimeout                                     time.Duration
	retries, breakerFailures                         int
	hedge, noCache                                   bool
	sessions, redisAddr                              string
	sessionTTL                                       time.Duration
	limits                                           string
	rateLimit, rateBurst, loginLimit, maxInFlight    int
	ratePer                                          time.Duration
	sagaLease, recoverEvery                          time.Duration
	reconcileEvery, reconcileAfter                   time.Duration
	trusted                                          []netip.Prefix
	parts                                            services.Partitioning
	nats, natsPassword                               string
	natsEmbedded                                     bool // nats is the embedded server embedBroker started
	corsOrigins                                      []string
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&p.deadline, "deadline", 2*time.Second, "deadline of a whole composite, propagated downstream (env ATRIUM_DEADLINE)")
	fs.DurationVar(&p.proxyTimeout, "proxy-timeout", 10*time.Second, "deadline of a request through the API proxy, /services/{name}/..., propagated to the service (env ATRIUM_PROXY_TIMEOUT)")
	fs.DurationVar(&p.callTimeout, "call-timeout", 800*time.Millisecond, "timeout of each attempt of a downstream call (env ATRIUM_CALL_TIMEOUT)")
	fs.IntVar(&p.retries, "retries", 2, "extra attempts of a failed read, within the retry budget; 0 for none (env ATRIUM_RETRIES)")
	fs.DurationVar(&p.cacheTTL, "cache-ttl", 30*time.Second, "freshness of cached products, reviews, users (env ATRIUM_CACHE_TTL)")
	fs.BoolVar(&p.noCache, "no-cache", false, "turn the response cache off (env ATRIUM_NO_CACHE)")
	fs.IntVar(&p.breakerFailures, "breaker-failures", 5, "consecutive failures that open a service's circuit breaker (env ATRIUM_BREAKER_FAILURES)")
	fs.DurationVar(&p.breakerCooldown, "breaker-cooldown", 5*time.Second, "how long a breaker stays open before a probe (env ATRIUM_BREAKER_COOLDOWN)")
	fs.BoolVar(&p.hedge, "hedge", false, "hedge reads: a second request after the p95 latency (env ATRIUM_HEDGE)")
	fs.StringVar(&p.sessions, "sessions", "memory", "where login sessions live: memory (this process only) or redis (shared) (env ATRIUM_SESSIONS)")
	fs.StringVar(&p.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis for --sessions redis (env ATRIUM_REDIS_ADDR)")
	fs.DurationVar(&p.sessionTTL, "session-ttl", 24*time.Hour, "how long a session lives (env ATRIUM_SESSION_TTL)")
	fs.StringVar(&p.limits, "limits", "memory", "where the rate limits' budgets live: memory (this process only) or redis (shared by every gateway on --redis-addr) (env ATRIUM_LIMITS)")
	fs.IntVar(&p.rateLimit, "rate-limit", 100, "requests each client address may make per --rate-per; 0 for no limit (env ATRIUM_RATE_LIMIT)")
	fs.DurationVar(&p.ratePer, "rate-per", time.Second, "the period of --rate-limit (env ATRIUM_RATE_PER)")
	fs.IntVar(&p.rateBurst, "rate-burst", 0, "requests a client may make at once; default twice --rate-limit (env ATRIUM_RATE_BURST)")
	fs.IntVar(&p.loginLimit, "login-limit", 5, "login attempts per minute for one account; each client address gets four times as many; 0 for no limit (env ATRIUM_LOGIN_LIMIT)")
	fs.DurationVar(&p.sagaLease, "saga-lease", 5*time.Second, "how long a gateway's claim on a checkout it runs lives unless renewed; past it, another gateway finishes the checkout (env ATRIUM_SAGA_LEASE)")
	fs.DurationVar(&p.recoverEvery, "recover-every", 2*time.Second, "how often unfinished checkouts whose gateway died are looked for (env ATRIUM_RECOVER_EVERY)")
	fs.DurationVar(&p.reconcileEvery, "reconcile-every", 30*time.Second, "how often charges and committed stock that no order claims are looked for (env ATRIUM_RECONCILE_EVERY)")
	fs.DurationVar(&p.reconcileAfter, "reconcile-after", 2*time.Minute, "how old a charge or committed reservation must be before the reconciler repairs it (env ATRIUM_RECONCILE_AFTER)")
	fs.IntVar(&p.maxInFlight, "max-inflight", 1024, "requests served at once; more are answered 503 (env ATRIUM_MAX_INFLIGHT)")
	fs.StringVar(&p.nats, "nats", "embedded", "the message broker: embedded (a NATS server with JetStream in this process, its streams in --data-dir) or the URL of a NATS server, nats://host:4222 (env ATRIUM_NATS)")
	fs.StringVar(&p.natsPassword, "nats-password", "", "password of the NATS user atrium; default: derived from the admin token (env ATRIUM_NATS_PASSWORD)")
	fs.Func("partitions", "services run partitioned (Z axis), e.g. users=range:A-D,E-P,Q-Z, users=hash:4 or users=list:DE+FR,US,*; each partition is its own instance in up (env ATRIUM_PARTITIONS)", func(v string) error {
		var err error
		p.parts, err = services.ParsePartitioning(v)
		return err
	})
	fs.Func("cors-origins", "browser origins whose pages may call the API with their user's session, comma-separated, e.g. http://localhost:3000,https://shop.example (default: none) (env ATRIUM_CORS_ORIGINS)", func(v string) error {
		var err error
		p.corsOrigins, err = parseOrigins(v)
		return err
	})
	fs.Func("trusted-proxies", "networks whose X-Forwarded-For tells the client's address, comma-separated CIDRs (default: loopback) (env ATRIUM_TRUSTED_PROXIES)", func(v string) error {
		var err error
		p.trusted, err = parseNetworks(v)
		return err
	})
}

// parseOrigins reads comma-separated origins: scheme://host[:port], with
// nothing after.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(v, ",") {
		o := strings.TrimSpace(part)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin such as http://localhost:3000 (a scheme, a host, a port; no path)", o)
		}
		out = append(out, o)
	}
	return out, nil
}

// parseNetworks reads comma-separated CIDRs.
func parseNetworks(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8", part)
		}
		out = append(out, p)
	}
	return out, nil
}

// gatewayLimits are the abuse limits the flags choose.
func (p *policyFlags) gatewayLimits() (gateway.Limits, error) {
	off := limit.Unlimited()
	l := gateway.Limits{MaxInFlight: p.maxInFlight, PerClient: off, LoginPerAccount: off, LoginPerAddress: off}
	if p.rateLimit > 0 {
		burst := p.rateBurst
		if burst <= 0 {
			burst = 2 * p.rateLimit
		}
		l.PerClient = limit.Limit{Count: p.rateLimit, Per: p.ratePer, Burst: burst}
	}
	if p.loginLimit > 0 {
		l.LoginPerAccount = limit.Limit{Count: p.loginLimit, Per: time.Minute, Burst: p.loginLimit}
		l.LoginPerAddress = limit.Limit{Count: 4 * p.loginLimit, Per: time.Minute, Burst: 4 * p.loginLimit}
	}
	switch p.limits {
	case "memory":
		l.Limiter = new(limit.Memory)
	case "redis":
		l.Limiter = limit.NewRedis(redis.NewClient(&redis.Options{Addr: p.redisAddr}))
	default:
		return l, fmt.Errorf("--limits %q: want memory or redis", p.limits)
	}
	return l, nil
}

// sessionStore is the session store the flags choose.
func (p *policyFlags) sessionStore() (session.Store, error) {
	switch p.sessions {
	case "memory":
		return &session.Memory{TTL: p.sessionTTL}, nil
	case "redis":
		return session.Redis{Client: redis.NewClient(&redis.Options{Addr: p.redisAddr}), TTL: p.sessionTTL}, nil
	}
	return nil, fmt.Errorf("--sessions %q: want memory or redis", p.sessions)
}

// composer builds the composites over set with the flags' policies, and
// the checkout's saga log in st (shared by every gateway on it), whose
// unfinished runs it recovers until ctx ends. owner names this process in
// the log. It returns what closes the log.
func (p *policyFlags) composer(ctx context.Context, set services.Set, st services.Storage, owner string, tel *telemetry.Telemetry, logger *slog.Logger,
	inProcess func(ctx context.Context, service string, call func(context.Context) error) error) (*composite.Composer, io.Closer, error) {
	log, err := sagalog.Open(st.Place("sagas"))
	if err != nil {
		return nil, nil, err
	}
	retries := p.retries
	if retries == 0 {
		retries = -1 // the flag's 0 means none; the Config's 0 means the default
	}
	c := composite.New(set, composite.Config{
		Deadline: p.deadline, CallTimeout: p.callTimeout, Retries: retries,
		CacheTTL: p.cacheTTL, NoCache: p.noCache, Hedge: p.hedge,
		Runtime: orchestration.RuntimeConfig{
			BreakerFailures: uint32(max(p.breakerFailures, 1)), BreakerCooldown: p.breakerCooldown, InProcess: inProcess,
			Tracer: tel.Tracer, Meter: tel.Meter,
		},
		Log: log, Owner: owner, Lease: p.sagaLease, Answer: gateway.CheckoutAnswer, Logger: logger,
	})
	go c.Recover(ctx, p.recoverEvery)
	go c.Reconcile(ctx, p.reconcileEvery, p.reconcileAfter)
	return c, log, nil
}

// natsUser is the NATS user atrium's processes connect as.
const natsUser = "atrium"

// embedBroker starts the embedded NATS server when the flags ask for one
// and points the flags at it, so that this process and its children
// connect to it; stop stops it.
func (p *policyFlags) embedBroker(dataDir, secret string) (stop func(), err error) {
	switch {
	case p.natsPassword != "":
	case secret != "":
		p.natsPassword = natsPassword(secret, natsUser)
	default: // no admin token to derive it from: nobody else needs it
		p.natsPassword = newToken()
	}
	if p.nats != "embedded" {
		return func() {}, nil
	}
	users := []broker.User{{Name: natsUser, Password: p.natsPassword}}
	if secret != "" { // an account per service, that tells its own events only
		for _, name := range services.Names {
			users = append(users, broker.User{Name: name, Password: natsPassword(secret, name), Publishes: services.Publishes(name)})
		}
	}
	srv, err := broker.Embed(filepath.Join(dataDir, "nats"), "127.0.0.1:0", users)
	if err != nil {
		return nil, err
	}
	p.nats, p.natsEmbedded = srv.URL(), true
	return srv.Shutdown, nil
}

// natsPassword is the password of a user of the embedded broker, derived
// from secret (the admin token): atrium's, or a service's account.
func natsPassword(secret, user string) string {
	if user == natsUser {
		return services.Token(secret, "nats")
	}
	return services.Token(secret, "nats/"+user)
}

// natsAccount is the user and password service name connects to the
// broker with: its own account on the embedded broker, atrium's user on an
// external one (whose accounts are its operator's to make).
func (p *policyFlags) natsAccount(secret string, name services.Name) (user, password string) {
	if p.natsEmbedded && secret != "" {
		return name, natsPassword(secret, name)
	}
	return natsUser, p.natsPassword
}

// broker connects to the broker the flags choose, starting the embedded
// server first when they say so; close disconnects (and stops that
// server).
func (p *policyFlags) broker(ctx context.Context, dataDir, secret, name string, logger *slog.Logger) (bus *broker.Bus, close func(), err error) {
	stop, err := p.embedBroker(dataDir, secret)
	if err != nil {
		return nil, nil, err
	}
	bus, err = connectBroker(ctx, p.nats, natsUser, p.natsPassword, name, logger)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return bus, func() { bus.Close(); stop() }, nil
}

// connectBroker connects to the NATS server at url as user (atrium's, or
// a service's account), waiting for it up to 30 seconds.
func connectBroker(ctx context.Context, url, user, password, name string, logger *slog.Logger) (*broker.Bus, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return broker.Connect(ctx, url, broker.Options{Name: name, User: user, Password: password, Logger: logger, ServiceAccount: user != natsUser})
}
