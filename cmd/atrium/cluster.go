package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"syscall"

	"github.com/labstack/echo/v4"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/cluster"
	"github.com/atrium-bff/atrium/internal/server"
)

func clusterCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium cluster", flag.ContinueOnError)
	workers := fs.Int("workers", runtime.NumCPU(), "worker processes (env ATRIUM_WORKERS)")
	addr := fs.String("addr", "127.0.0.1:8080", "the address the workers share (env ATRIUM_ADDR)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:0", "the supervisor's admin endpoint: GET /workers, POST /roll (env ATRIUM_ADMIN_ADDR)")
	token := fs.String("admin-token", "", "bearer token of the admin endpoint (env ATRIUM_ADMIN_TOKEN)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	return &ffcli.Command{
		Name:       "cluster",
		ShortUsage: "atrium cluster [--workers N] [--addr HOST:PORT] -- <monolith|gateway|service NAME> [flags]",
		ShortHelp:  "run N workers of a server on one shared socket; SIGHUP or SIGUSR2 restarts them one at a time",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) == 0 || !slices.Contains([]string{"monolith", "gateway", "service"}, args[0]) {
				return errors.New("cluster: name the workers' subcommand after --: monolith, gateway or service NAME")
			}
			if slices.Contains(args, "--addr") {
				return errors.New("cluster: give --addr to cluster, not to the workers: they share its socket")
			}
			logger := server.NewLogger(os.Stderr, *logLevel, "cluster")
			ln, err := net.Listen("tcp", *addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			self, err := os.Executable()
			if err != nil {
				return err
			}
			c, err := cluster.New(cluster.Config{Binary: self, Args: args, Workers: *workers,
				Listener: ln.(*net.TCPListener), Logger: logger})
			if err != nil {
				return err
			}
			logger.Info("cluster listening", "addr", ln.Addr().String(), "workers", *workers)

			admin, err := net.Listen("tcp", *adminAddr)
			if err != nil {
				return err
			}
			e := server.New(server.Config{Logger: logger})
			g := e.Group("")
			if *token != "" {
				g.Use(server.RequireToken(*token))
			}
			g.GET("/workers", func(c2 echo.Context) error { return c2.JSON(http.StatusOK, c.Workers()) })
			g.POST("/roll", func(c2 echo.Context) error {
				if err := c.Roll(c2.Request().Context()); err != nil {
					return err
				}
				return c2.JSON(http.StatusOK, c.Workers())
			})
			go func() { _ = server.Serve(ctx, admin, e) }()
			logger.Info("cluster admin listening", "addr", admin.Addr().String())

			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP, syscall.SIGUSR2)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						logger.Info("rolling restart")
						if err := c.Roll(ctx); err != nil {
							logger.Error("rolling restart failed", "err", err)
						}
					}
				}
			}()
			if err := c.Run(ctx); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			return nil
		},
	}
}
