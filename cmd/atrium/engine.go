package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/registry/consul"
	"github.com/atrium-bff/atrium/registry/etcd"
)

// A --registry: where instances register.
type registrySpec struct {
	// kind is embedded (a gateway's memory), etcd, consul, or url (the
	// gateway whose embedded registry a service joins).
	kind string
	// at is etcd's client URLs, Consul's agent address, or the URL.
	at []string
}

// shared reports whether several processes share the registry.
func (r registrySpec) shared() bool { return r.kind == "etcd" || r.kind == "consul" }

// parseRegistry reads embedded (or nothing), etcd://host:port[,host:port…],
// consul://host:port (the local agent), or a gateway's base URL.
func parseRegistry(spec string) (registrySpec, error) {
	bad := func(want string) (registrySpec, error) {
		return registrySpec{}, usageError{fmt.Sprintf("--registry %q: want %s", spec, want)}
	}
	scheme, rest, _ := strings.Cut(spec, "://")
	switch {
	case spec == "" || spec == "embedded":
		return registrySpec{kind: "embedded"}, nil
	case scheme == "etcd":
		r := registrySpec{kind: "etcd"}
		for hp := range strings.SplitSeq(rest, ",") {
			if hp == "" || strings.ContainsAny(hp, "/?#@") {
				return bad("etcd://host:port[,host:port…]")
			}
			r.at = append(r.at, "http://"+hp)
		}
		return r, nil
	case scheme == "consul":
		if rest == "" || strings.ContainsAny(rest, "/?#@,") {
			return bad("consul://host:port (its local agent)")
		}
		return registrySpec{kind: "consul", at: []string{rest}}, nil
	case scheme == "http" || scheme == "https":
		return registrySpec{kind: "url", at: []string{spec}}, nil
	}
	return bad("embedded, etcd://host:port or consul://host:port")
}

// checkRegistry refuses a gateway's --registry it cannot open, before it
// starts anything.
func checkRegistry(spec string) error {
	r, err := parseRegistry(spec)
	if err == nil && r.kind == "url" {
		return usageError{fmt.Sprintf("--registry %q: a gateway keeps its registry: want embedded, etcd://host:port or consul://host:port", spec)}
	}
	return err
}

// openShared opens a registry several processes share (etcd or Consul).
func openShared(ctx context.Context, r registrySpec, ttl time.Duration, admission registry.Options, onNew func(registry.Instance), logger *slog.Logger) (registry.Engine, func(), error) {
	switch r.kind {
	case "etcd":
		e, err := etcd.New(ctx, etcd.Config{Endpoints: r.at, TTL: ttl, Admission: admission, OnNew: onNew, Logger: logger})
		if err != nil {
			return nil, nil, err
		}
		return e, func() { e.Close() }, nil
	case "consul":
		e, err := consul.New(ctx, consul.Config{Address: r.at[0], TTL: ttl, Admission: admission, OnNew: onNew, Logger: logger})
		if err != nil {
			return nil, nil, err
		}
		return e, func() { e.Close() }, nil
	}
	return nil, nil, fmt.Errorf("registry %s is not shared", r.kind)
}

// openEngine opens the registry a gateway reads: embedded (its own memory),
// or etcd or Consul, shared by every gateway. onNew is told of each new
// instance.
func openEngine(ctx context.Context, spec string, ttl time.Duration, admission registry.Options, onNew func(registry.Instance), logger *slog.Logger) (registry.Engine, func(), error) {
	if err := checkRegistry(spec); err != nil {
		return nil, nil, err
	}
	if r, _ := parseRegistry(spec); r.shared() {
		return openShared(ctx, r, ttl, admission, onNew, logger)
	}
	admission.OnNew = onNew
	reg := registry.NewWithOptions(ttl, admission)
	go reg.Run(ctx)
	return registry.Embedded{Registry: reg}, func() {}, nil
}

// anywhere admits every address: a service registering itself in etcd or
// Consul leaves the check to the gateways that read it.
var anywhere = registry.Options{Networks: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, Hostnames: true}
