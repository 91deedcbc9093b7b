package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/orchestration"
)

func monolithCommand() *ffcli.Command {
	var c common
	fs := c.flags("monolith", "127.0.0.1:8080")
	return &ffcli.Command{
		Name:       "monolith",
		ShortUsage: "atrium monolith [--addr 127.0.0.1:8080]",
		ShortHelp:  "serve the whole API from one process, every service in-process",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, _ []string) error {
			logger := server.NewLogger(os.Stderr, c.logLevel, "monolith")
			var svc orchestration.Services
			upstreams := map[string]http.Handler{}
			var closers []io.Closer
			defer func() {
				for _, cl := range closers {
					cl.Close()
				}
			}()
			for _, name := range serviceNames {
				h, closer, err := openLocal(name, c.dataDir, &svc)
				if err != nil {
					return err
				}
				if closer != nil {
					closers = append(closers, closer)
				}
				upstreams[name] = h
			}
			ln, err := net.Listen("tcp", c.addr)
			if err != nil {
				return err
			}
			logger.Info("monolith listening", "addr", ln.Addr().String())
			e := gateway.New(gateway.Config{
				Logger: logger, AdminToken: c.token,
				Composer:  orchestration.New(svc, orchestration.Config{}),
				Upstreams: upstreams,
			})
			return server.Serve(ctx, ln, e)
		},
	}
}
