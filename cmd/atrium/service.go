package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/instance"
)

func serviceCommand() *ffcli.Command {
	var (
		c         common
		fs        = c.flags("service", "127.0.0.1:0")
		reg       = fs.String("registry", "", "base URL of the gateway whose registry to join, e.g. http://127.0.0.1:8080 (env ATRIUM_REGISTRY)")
		advertise = fs.String("advertise", "", "address to register; default: the listen host, or 127.0.0.1 when that is unspecified (env ATRIUM_ADVERTISE)")
		heartbeat = fs.Duration("heartbeat", time.Second, "how often to renew the registration (env ATRIUM_HEARTBEAT)")
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
				return fmt.Errorf("service: name one service of %v, after the flags", services.Names)
			}
			name := args[0]
			if *token == "" && c.token != "" {
				*token = services.Token(c.token, name) // works, but the process then holds the master token
			}
			if *token == "" {
				return errors.New("service: set --service-token or ATRIUM_SERVICE_TOKEN (atrium service-token NAME prints it): a service answers only the gateway")
			}
			local, err := services.Open(c.dataDir, name)
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
			cfg := instance.Config{
				Service: name, Handler: local.Handlers[name], Faults: local.Faults[name],
				Listener: ln, Advertise: *advertise, Heartbeat: *heartbeat,
				Token: *token, Logger: server.NewLogger(os.Stderr, c.logLevel, name),
				Telemetry: tel, Ready: process.Ready, ReadTimeout: c.readTimeout,
			}
			if *reg != "" {
				cfg.Registry = registry.NewClient(*reg+"/admin/registry", *token)
			}
			return instance.Run(ctx, cfg)
		},
	}
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
