package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/process"
)

func clusterCommand() *ffcli.Command {
	fs := flag.NewFlagSet("atrium cluster", flag.ContinueOnError)
	workers := fs.Int("workers", runtime.NumCPU(), "worker processes (env ATRIUM_WORKERS)")
	addr := fs.String("addr", "127.0.0.1:8080", "the address the workers share (env ATRIUM_ADDR)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:0", "the supervisor's admin endpoint: GET /workers, POST /roll (env ATRIUM_ADMIN_ADDR)")
	token := fs.String("admin-token", "", "bearer token of the admin endpoint (env ATRIUM_ADMIN_TOKEN)")
	var log logging
	log.flags(fs)
	return &ffcli.Command{
		Name:       "cluster",
		ShortUsage: "atrium cluster [--workers N] [--addr HOST:PORT] -- <monolith|gateway|service NAME> [flags]",
		ShortHelp:  "run N workers of a server on one shared socket; SIGHUP or SIGUSR2 restarts them one at a time",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if len(args) == 0 || !slices.Contains([]string{"monolith", "gateway", "service"}, args[0]) {
				return usageError{"cluster: name the workers' subcommand after --: monolith, gateway or service NAME"}
			}
			if slices.Contains(args, "--addr") {
				return usageError{"cluster: give --addr to cluster, not to the workers: they share its socket"}
			}
			logger := log.logger("cluster")
			ln, err := net.Listen("tcp", *addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			self, err := os.Executable()
			if err != nil {
				return err
			}
			env, stopBroker, err := clusterBroker(args, logger)
			if err != nil {
				return err
			}
			defer stopBroker()
			c, err := process.NewCluster(process.ClusterConfig{Binary: self, Args: args, Env: env, Workers: *workers,
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
			c.Routes(g)
			go func() { _ = server.Serve(ctx, admin, e) }()
			logger.Info("cluster admin listening", "addr", admin.Addr().String())
			go c.RollOnSignal(ctx)
			if err := c.Run(ctx); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			return nil
		},
	}
}

// clusterBroker gives workers that would each embed a NATS server (a
// monolith or a gateway with no --nats of their own) the cluster's one
// instead, kept in their data directory: workers on one data directory
// share one broker, as they share its databases. It returns what the
// workers' environment gains and what stops the server.
func clusterBroker(args []string, logger *slog.Logger) (env []string, stop func(), err error) {
	stop = func() {}
	if args[0] == "service" || slices.Contains(args, "--nats") || os.Getenv("ATRIUM_NATS") != "" {
		return nil, stop, nil
	}
	dataDir := os.Getenv("ATRIUM_DATA_DIR")
	if i := slices.Index(args, "--data-dir"); i >= 0 && i+1 < len(args) {
		dataDir = args[i+1]
	}
	if dataDir == "" {
		dataDir = "data"
	}
	password := newToken()
	srv, err := broker.Embed(filepath.Join(dataDir, "nats"), "127.0.0.1:0", []broker.User{{Name: natsUser, Password: password}})
	if err != nil {
		return nil, nil, err
	}
	logger.Info("cluster broker listening", "url", srv.URL())
	return []string{"ATRIUM_NATS=" + srv.URL(), "ATRIUM_NATS_PASSWORD=" + password}, srv.Shutdown, nil
}
