package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway/registry"
	"github.com/atrium-bff/atrium/internal/cluster"
	"github.com/atrium-bff/atrium/internal/fault"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/stack"
	"github.com/atrium-bff/atrium/orchestration"
)

// InstanceHeader names the instance that served a request.
const InstanceHeader = "X-Atrium-Instance"

func serviceCommand() *ffcli.Command {
	var (
		c         common
		fs        = c.flags("service", "127.0.0.1:0")
		reg       = fs.String("registry", "", "base URL of the gateway whose registry to join, e.g. http://127.0.0.1:8080 (env ATRIUM_REGISTRY)")
		advertise = fs.String("advertise", "", "address to register; default: the listen host, or 127.0.0.1 when that is unspecified (env ATRIUM_ADVERTISE)")
		heartbeat = fs.Duration("heartbeat", time.Second, "how often to renew the registration (env ATRIUM_HEARTBEAT)")
	)
	return &ffcli.Command{
		Name:       "service",
		ShortUsage: "atrium service [--addr 127.0.0.1:0] [--registry URL] <name>",
		ShortHelp:  "run one domain service: " + fmt.Sprint(stack.Names),
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("service: name one service of %v, after the flags", stack.Names)
			}
			name := args[0]
			var svc orchestration.Services
			h, closer, err := stack.Open(name, c.dataDir, &svc)
			if err != nil {
				return err
			}
			if closer != nil {
				defer closer.Close()
			}
			if *reg != "" && c.token == "" {
				return errors.New("service: --registry needs --admin-token or ATRIUM_ADMIN_TOKEN")
			}
			ln, err := cluster.Listen(c.addr)
			if err != nil {
				return err
			}
			tcp := ln.Addr().(*net.TCPAddr)
			inst := registry.Instance{
				ID: fmt.Sprintf("%s-%d-%d", name, os.Getpid(), tcp.Port), Service: name,
				Address: *advertise, Port: tcp.Port,
				Meta: map[string]string{"pid": strconv.Itoa(os.Getpid())},
			}
			if inst.Address == "" {
				inst.Address = "127.0.0.1"
				if !tcp.IP.IsUnspecified() {
					inst.Address = tcp.IP.String()
				}
			}
			logger := server.NewLogger(os.Stderr, c.logLevel, name).With("instance", inst.ID)
			tel, err := c.telemetry(ctx, "atrium-"+name)
			if err != nil {
				return err
			}
			defer shutdown(tel)
			e := server.New(server.Config{Logger: logger, Telemetry: tel})
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					c.Response().Header().Set(InstanceHeader, inst.ID)
					return next(c)
				}
			})
			e.Use(server.Deadline())
			server.Health(e, nil)
			faults := new(fault.Injector)
			if c.token != "" {
				fault.Routes(e.Group("/admin/faults", server.RequireToken(c.token)), inst.ID, faults)
				tel.Routes(e.Group("/admin/traces", server.RequireToken(c.token)), nil, c.token)
			}
			// The same span a monolith makes at its in-process boundary.
			e.Any("/*", echo.WrapHandler(faults.Middleware(h)), func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					ctx, span := tel.Span(c.Request().Context(), "service", name)
					defer span.End()
					c.SetRequest(c.Request().WithContext(ctx))
					return next(c)
				}
			})

			// Serve until ctx is done, deregistering before the server drains,
			// so the gateway stops sending requests before they would fail.
			serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
			defer stopServing()
			serveErr := make(chan error, 1)
			go func() { serveErr <- server.Serve(serveCtx, ln, e) }()
			keepCtx, stopKeeping := context.WithCancel(ctx)
			defer stopKeeping()
			kept := make(chan struct{})
			go func() {
				defer close(kept)
				if *reg != "" {
					registry.Keep(keepCtx, registry.NewClient(*reg+"/admin/registry", c.token), inst, *heartbeat, logger)
				}
			}()
			logger.Info("service listening", "addr", ln.Addr().String())
			if err := cluster.Ready(); err != nil {
				return err
			}
			select {
			case err := <-serveErr:
				stopKeeping()
				<-kept
				return err
			case <-ctx.Done():
			}
			<-kept
			stopServing()
			return <-serveErr
		},
	}
}
