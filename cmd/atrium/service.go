package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/instance"
)

func serviceCommand() *ffcli.Command {
	var (
		c         common
		fs        = c.flags("service", "127.0.0.1:0")
		reg       = fs.String("registry", "", "where to register: the base URL of the gateway whose embedded registry to join, e.g. http://127.0.0.1:8080, etcd://host:2379[,host:2379…] or consul://host:8500 (env ATRIUM_REGISTRY)")
		advertise = fs.String("advertise", "", "address to register; default: the listen host, or 127.0.0.1 when that is unspecified (env ATRIUM_ADVERTISE)")
		heartbeat = fs.Duration("heartbeat", time.Second, "how often to renew the registration (env ATRIUM_HEARTBEAT)")
		scheme    = fs.String("partition", "", "the partition scheme this instance owns a partition of, as --partitions gives it to the gateway: range:A-D,E-P,Q-Z (env ATRIUM_PARTITION)")
		owns      = fs.String("owns", "", "the partition of --partition this instance owns, by name: E-P (env ATRIUM_OWNS)")
		nats      = fs.String("nats", "", "the NATS server to publish this service's events to and follow others' on, nats://host:4222; none: its events wait in its outbox (env ATRIUM_NATS)")
		natsAs    = fs.String("nats-user", "atrium", "the NATS user to connect as: atrium's, or the service's own account on atrium's embedded server (env ATRIUM_NATS_USER)")
		natsPass  = fs.String("nats-password", "", "password of the NATS user (env ATRIUM_NATS_PASSWORD)")
		token     = fs.String("service-token", "", "this service's credential, which the gateway sends and the registry takes: atrium service-token NAME prints it (env ATRIUM_SERVICE_TOKEN)")
	)
	return &ffcli.Command{
		Name:       "service",
		ShortUsage: "atrium service [--addr 127.0.0.1:0] [--registry URL] <name>",
		ShortHelp:  "run one domain service: " + fmt.Sprint(services.Names),
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Sprintf("service: name one service of %v, after the flags", services.Names)}
			}
			name := args[0]
			if *token == "" && c.token != "" {
				*token = services.Token(c.token, name) // works, but the process then holds the master token
			}
			if *token == "" {
				return errors.New("service: set --service-token or ATRIUM_SERVICE_TOKEN (atrium service-token NAME prints it): a service answers only the gateway")
			}
			local, meta, err := openService(c.storage(), name, *scheme, *owns)
			if err != nil {
				return err
			}
			defer local.Close()
			ln, err := process.Listen(c.addr)
			if err != nil {
				return err
			}
			tel, err := c.telemetry(ctx, "atrium-"+name)
			if err != nil {
				return err
			}
			defer shutdown(tel)
			logger := c.logger(name)
			if *nats != "" {
				if *natsPass == "" && c.token != "" { // derived, as the gateway's embedded broker derives it
					*natsPass = natsPassword(c.token, *natsAs)
				}
				bus, err := connectBroker(ctx, *nats, *natsAs, *natsPass, name, logger)
				if err != nil {
					return err
				}
				defer bus.Close()
				if err := local.Start(ctx, bus, logger); err != nil {
					return err
				}
			}
			cfg := instance.Config{
				Service: name, Handler: local.Handlers[name], Faults: local.Faults[name],
				Listener: ln, Advertise: *advertise, Heartbeat: *heartbeat,
				Meta:  meta,
				Token: *token, Logger: logger,
				Telemetry: tel, Ready: process.Ready, ReadTimeout: c.readTimeout,
			}
			where, err := parseRegistry(*reg)
			switch {
			case err != nil:
				return err
			case where.shared(): // etcd or Consul
				shared, closeShared, err := openShared(ctx, where, 3*max(*heartbeat, time.Second), anywhere, nil, logger)
				if err != nil {
					return err
				}
				defer closeShared()
				cfg.Registry = shared
			case where.kind == "url":
				cfg.Registry = registry.NewClient(*reg+"/admin/registry", *token)
			}
			return instance.Run(ctx, cfg)
		},
	}
}

// openService opens service name in-process, whole, or the partition owns
// of scheme; meta is what its registry entry adds.
func openService(st services.Storage, name, scheme, owns string) (*services.Local, map[string]string, error) {
	if scheme == "" && owns == "" {
		local, err := services.Open(st, nil, name)
		return local, nil, err
	}
	s, err := partition.Parse(scheme)
	if err != nil {
		return nil, nil, fmt.Errorf("--partition: %w", err)
	}
	i, ok := partition.Index(s, owns)
	if !ok {
		return nil, nil, fmt.Errorf("--owns %q: name one partition of %s: %s", owns, s, strings.Join(partition.Names(s), ", "))
	}
	local, err := services.OpenPart(st, name, s, i)
	return local, map[string]string{partition.MetaName: owns, partition.MetaScheme: s.String()}, err
}

func serviceTokenCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium service-token", flag.ContinueOnError)
	secret := fs.String("admin-token", "", "the gateway's admin token, which service credentials derive from (env ATRIUM_ADMIN_TOKEN)")
	return &ffcli.Command{
		Name:       "service-token",
		ShortUsage: "atrium service-token [--admin-token T] <name>",
		ShortHelp:  "print a service's credential, for atrium service --service-token",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(_ context.Context, args []string) error {
			if len(args) != 1 || !services.Known(args[0]) {
				return fmt.Errorf("service-token: name one service of %v", services.Names)
			}
			if *secret == "" {
				return errors.New("service-token: set --admin-token or ATRIUM_ADMIN_TOKEN")
			}
			fmt.Println(services.Token(*secret, args[0]))
			return nil
		},
	}
}
