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

// etcdEndpoints reads etcd://host:port[,host:port…] as etcd's client
// URLs; ok is false for a registry that is not etcd.
func etcdEndpoints(spec string) (endpoints []string, ok bool, err error) {
	rest, ok := strings.CutPrefix(spec, "etcd://")
	if !ok {
		return nil, false, nil
	}
	for hp := range strings.SplitSeq(rest, ",") {
		if hp == "" || strings.ContainsAny(hp, "/?#@") {
			return nil, true, usageError{fmt.Sprintf("--registry %q: want etcd://host:port[,host:port…]", spec)}
		}
		endpoints = append(endpoints, "http://"+hp)
	}
	return endpoints, true, nil
}

// consulAddress reads consul://host:port as a Consul agent's address; ok
// is false for a registry that is not Consul.
func consulAddress(spec string) (addr string, ok bool, err error) {
	rest, ok := strings.CutPrefix(spec, "consul://")
	if ok && (rest == "" || strings.ContainsAny(rest, "/?#@,")) {
		return "", true, usageError{fmt.Sprintf("--registry %q: want consul://host:port (its local agent)", spec)}
	}
	return rest, ok, nil
}

// checkRegistry refuses a --registry a gateway cannot open, before it
// starts anything.
func checkRegistry(spec string) error {
	if _, isEtcd, err := etcdEndpoints(spec); err != nil || isEtcd || spec == "" || spec == "embedded" {
		return err
	}
	if _, isConsul, err := consulAddress(spec); err != nil || isConsul {
		return err
	}
	return usageError{fmt.Sprintf("--registry %q: want embedded, etcd://host:port or consul://host:port", spec)}
}

// openShared opens a registry that several processes share (etcd or
// Consul); ok is false for one that is not.
func openShared(ctx context.Context, spec string, ttl time.Duration, admission registry.Options, onNew func(registry.Instance), logger *slog.Logger) (e registry.Engine, closer func(), ok bool, err error) {
	if endpoints, isEtcd, err := etcdEndpoints(spec); err != nil || isEtcd {
		if err != nil {
			return nil, nil, true, err
		}
		r, err := etcd.New(ctx, etcd.Config{Endpoints: endpoints, TTL: ttl, Admission: admission, OnNew: onNew, Logger: logger})
		if err != nil {
			return nil, nil, true, err
		}
		return r, func() { r.Close() }, true, nil
	}
	if addr, isConsul, err := consulAddress(spec); err != nil || isConsul {
		if err != nil {
			return nil, nil, true, err
		}
		r, err := consul.New(ctx, consul.Config{Address: addr, TTL: ttl, Admission: admission, OnNew: onNew, Logger: logger})
		if err != nil {
			return nil, nil, true, err
		}
		return r, func() { r.Close() }, true, nil
	}
	return nil, nil, false, nil
}

// openEngine opens the registry a gateway reads: embedded (its own memory),
// or etcd or Consul, shared by every gateway. onNew is told of each new instance.
func openEngine(ctx context.Context, spec string, ttl time.Duration, admission registry.Options, onNew func(registry.Instance), logger *slog.Logger) (registry.Engine, func(), error) {
	if e, closer, shared, err := openShared(ctx, spec, ttl, admission, onNew, logger); shared || err != nil {
		return e, closer, err
	}
	if err := checkRegistry(spec); err != nil {
		return nil, nil, err
	}
	admission.OnNew = onNew
	reg := registry.NewWithOptions(ttl, admission)
	go reg.Run(ctx)
	return registry.Embedded{Registry: reg}, func() {}, nil
}

// anywhere admits every address: a service registering itself in etcd
// leaves the check to the gateways that read it.
var anywhere = registry.Options{Networks: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, Hostnames: true}
