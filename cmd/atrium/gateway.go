package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/openapi"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
)

type gatewayFlags struct {
	common
	policy         policyFlags
	ttl            time.Duration
	balance        string
	healthInterval time.Duration
	networks       []netip.Prefix
	hostnames      bool
	registry       string
	scale          gateway.Scale // up's, which runs the services
}

func (g *gatewayFlags) flags(name string) *flag.FlagSet {
	fs := g.common.flags(name, "127.0.0.1:8080")
	g.policy.register(fs)
	fs.StringVar(&g.balance, "balance", "", "load-balancing policy per service, e.g. catalog=least-conn,cart=sticky: round-robin (default), least-conn, p2c, sticky, hash:<header> (env ATRIUM_BALANCE)")
	fs.DurationVar(&g.healthInterval, "health-interval", time.Second, "how often every instance's /readyz is checked (env ATRIUM_HEALTH_INTERVAL)")
	fs.DurationVar(&g.ttl, "registry-ttl", 3*time.Second, "how long a registration lives without renewal (env ATRIUM_REGISTRY_TTL)")
	g.networks = registry.Loopback
	fs.Func("registry-networks", "networks service instances may register from, comma-separated CIDRs (default 127.0.0.0/8,::1/128: this machine) (env ATRIUM_REGISTRY_NETWORKS)", func(v string) error {
		var err error
		g.networks, err = parseNetworks(v)
		return err
	})
	fs.BoolVar(&g.hostnames, "registry-hostnames", false, "let instances register a host name rather than an IP address (env ATRIUM_REGISTRY_HOSTNAMES)")
	fs.StringVar(&g.registry, "registry", "embedded", "where instances register: embedded (this gateway's memory; services register through its API), etcd://host:2379[,host:2379…] or consul://host:8500 (its local agent), which every gateway shares (env ATRIUM_REGISTRY)")
	return fs
}

func gatewayCommand() *ffcli.Command {
	var g gatewayFlags
	fs := g.flags("gateway")
	return &ffcli.Command{
		Name:       "gateway",
		ShortUsage: "atrium gateway [--addr 127.0.0.1:8080] --admin-token TOKEN",
		ShortHelp:  "run the gateway alone; services register with its embedded registry",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("gateway", args); err != nil {
				return err
			}
			if err := checkRegistry(g.registry); err != nil {
				return err
			}
			if g.token == "" {
				return errors.New("gateway: set --admin-token or ATRIUM_ADMIN_TOKEN: services need it to register")
			}
			ln, err := process.Listen(g.addr)
			if err != nil {
				return err
			}
			return runGateway(ctx, ln, g, g.logger("gateway"))
		},
	}
}

// runGateway serves the microservices gateway on ln until ctx is done.
func runGateway(ctx context.Context, ln net.Listener, g gatewayFlags, logger *slog.Logger) error {
	tel, err := g.telemetry(ctx, "atrium-gateway")
	if err != nil {
		return err
	}
	defer shutdown(tel)
	// A new or restarted instance gets its service a fresh breaker, so that
	// checkouts reach it at once rather than after the cooldown.
	var comp atomic.Pointer[composite.Composer]
	reg, closeRegistry, err := openEngine(ctx, g.registry, g.ttl, registry.Options{Networks: g.networks, Hostnames: g.hostnames},
		func(inst registry.Instance) {
			if c := comp.Load(); c != nil {
				c.Heal(inst.Service)
			}
		}, logger)
	if err != nil {
		return err
	}
	defer closeRegistry()
	if err := registry.Observe(tel.Meter, reg, services.Names); err != nil {
		return err
	}
	sessions, err := g.policy.sessionStore()
	if err != nil {
		return err
	}
	limits, err := g.policy.gatewayLimits()
	if err != nil {
		return err
	}
	policies, err := parseBalance(g.balance)
	if err != nil {
		return err
	}
	load, health := new(balance.Load), new(balance.Health)
	go health.Check(ctx, reg.All, g.healthInterval)
	resolver := balance.Partitions{Resolver: reg, Schemes: g.policy.parts}
	rt := &balance.Transport{
		Resolver: resolver, Base: tel.Transport(balance.NewPool()), Load: load, Health: health,
		NewSelector: func(service string) balance.Selector {
			sel, _ := balance.Policy(policies[service], service, load) // checked by parseBalance
			return sel
		},
	}
	name := fmt.Sprintf("gateway-%d", os.Getpid())
	bus, closeBus, err := g.policy.broker(ctx, g.dataDir, g.token, name, logger)
	if err != nil {
		return err
	}
	defer closeBus()
	set := services.Remote(rt, g.token, g.policy.parts)
	composer, closer, err := g.policy.composer(ctx, set, g.storage(), name, tel, logger, nil)
	if err != nil {
		return err
	}
	defer closer.Close()
	comp.Store(composer)
	if err := bus.Follow(ctx, composer.Follows(), composer.OnEvent); err != nil {
		return err
	}
	upstreams := map[string]http.Handler{}
	for _, name := range services.Names {
		upstreams[name] = gateway.NewProxy(name, rt, "Bearer "+services.Token(g.token, name), logger)
		if g.policy.parts[name] != nil { // the gateway sends each request to the partitions that can answer it
			upstreams[name] = services.Serve(name, &set)
		}
	}
	routes := g.policy.parts.Routes()
	e := gateway.New(gateway.Config{
		Logger: logger, AdminToken: g.token, Registry: reg, Name: name, Scale: g.scale,
		Composer:  composer,
		Telemetry: tel,
		Sessions:  sessions,
		Limits:    limits, TrustedProxies: g.policy.trusted, CORSOrigins: g.policy.corsOrigins,
		TracePeers:   gateway.InstancePeers(reg, g.token),
		Upstreams:    upstreams,
		ProxyTimeout: g.policy.proxyTimeout,
		Spec:         openapi.MustLoad(openapi.Microservices),
		Faults:       gateway.RemoteFaults{Resolver: reg, Secret: g.token},
		Events:       bus,
		Ready: func(context.Context) error {
			if missing := resolver.Missing(routes); len(missing) > 0 {
				return fmt.Errorf("no live instance of %s", strings.Join(missing, ", "))
			}
			return nil
		},
	})
	logger.Info("gateway listening", "addr", ln.Addr().String())
	if err := process.Ready(); err != nil {
		return err
	}
	return server.ServeWith(ctx, ln, e, server.Options{Grace: process.Grace(), ReadTimeout: g.readTimeout})
}

// parseBalance reads "catalog=least-conn,cart=sticky" into a policy name per
// service, checking every name now rather than at the first request.
func parseBalance(s string) (map[string]string, error) {
	out := map[string]string{}
	err := perService("--balance", s, func(name, policy string) error {
		if _, err := balance.Policy(policy, name, nil); err != nil {
			return err
		}
		out[name] = policy
		return nil
	})
	return out, err
}
