package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/atrium-bff/atrium/registry"
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

// checkRegistry refuses a --registry a gateway cannot open, before it
// starts anything.
func checkRegistry(spec string) error {
	if _, isEtcd, err := etcdEndpoints(spec); err != nil || isEtcd || spec == "" || spec == "embedded" {
		return err
	}
	return usageError{fmt.Sprintf("--registry %q: want embedded or etcd://host:port", spec)}
}

// openEngine opens the registry a gateway reads: embedded (its own memory)
// or etcd, shared by every gateway. onNew is told of each new instance.
func openEngine(ctx context.Context, spec string, ttl time.Duration, admission registry.Options, onNew func(registry.Instance), logger *slog.Logger) (registry.Engine, func(), error) {
	endpoints, isEtcd, err := etcdEndpoints(spec)
	switch {
	case err != nil:
		return nil, nil, err
	case isEtcd:
		r, err := etcd.New(ctx, etcd.Config{Endpoints: endpoints, TTL: ttl, Admission: admission, OnNew: onNew, Logger: logger})
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	case spec != "" && spec != "embedded":
		return nil, nil, checkRegistry(spec)
	}
	admission.OnNew = onNew
	reg := registry.NewWithOptions(ttl, admission)
	go reg.Run(ctx)
	return registry.Embedded{Registry: reg}, func() {}, nil
}

// anywhere admits every address: a service registering itself in etcd
// leaves the check to the gateways that read it.
var anywhere = registry.Options{Networks: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, Hostnames: true}
