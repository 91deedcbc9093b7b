package main

import (
	"context"
	"fmt"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/openapi"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/services"
)

func monolithCommand() *ffcli.Command {
	var (
		c      common
		policy policyFlags
	)
	fs := c.flags("monolith", "127.0.0.1:8080")
	policy.register(fs)
	return &ffcli.Command{
		Name:       "monolith",
		ShortUsage: "atrium monolith [--addr 127.0.0.1:8080]",
		ShortHelp:  "serve the whole API from one process, every service in-process",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("monolith", args); err != nil {
				return err
			}
			logger := c.logger("monolith")
			tel, err := c.telemetry(ctx, "atrium-monolith")
			if err != nil {
				return err
			}
			defer shutdown(tel)
			sessions, err := policy.sessionStore()
			if err != nil {
				return err
			}
			limits, err := policy.gatewayLimits()
			if err != nil {
				return err
			}
			local, err := services.Open(c.storage(), policy.parts)
			if err != nil {
				return err
			}
			defer local.Close()
			name := fmt.Sprintf("monolith-%d", os.Getpid())
			bus, closeBus, err := policy.broker(ctx, c.dataDir, c.token, name, logger)
			if err != nil {
				return err
			}
			defer closeBus()
			comp, closer, err := policy.composer(ctx, local.Set, c.storage(), name, tel, logger, local.InProcess(tel.Tracer))
			if err != nil {
				return err
			}
			defer closer.Close()
			if err := local.Start(ctx, bus, logger); err != nil {
				return err
			}
			if err := bus.Follow(ctx, comp.Follows(), comp.OnEvent); err != nil {
				return err
			}
			ln, err := process.Listen(c.addr)
			if err != nil {
				return err
			}
			logger.Info("monolith listening", "addr", ln.Addr().String())
			e := gateway.New(gateway.Config{
				Logger: logger, AdminToken: c.token, Name: name,
				Composer:  comp,
				Telemetry: tel,
				Sessions:  sessions,
				Limits:    limits, TrustedProxies: policy.trusted, CORSOrigins: policy.corsOrigins,
				Upstreams:    local.Handlers,
				ProxyTimeout: policy.proxyTimeout,
				Spec:         openapi.MustLoad(openapi.Monolith),
				Faults:       local.Faults,
				Events:       bus,
			})
			if err := process.Ready(); err != nil {
				return err
			}
			return server.ServeWith(ctx, ln, e, server.Options{Grace: process.Grace(), ReadTimeout: c.readTimeout})
		},
	}
}
