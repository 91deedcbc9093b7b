// Command atrium runs the atrium BFF server: the whole microservices
// topology (up), a monolith, or one piece (gateway, service NAME).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root().ParseAndRun(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "atrium:", err)
		os.Exit(1)
	}
}

// common holds the flags every server subcommand takes.
type common struct {
	addr     string
	logLevel string
	dataDir  string
	token    string
}

func (c *common) flags(name, defaultAddr string) *flag.FlagSet {
	fs := flag.NewFlagSet("atrium "+name, flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", defaultAddr, "listen address, host:port (env ATRIUM_ADDR)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	fs.StringVar(&c.dataDir, "data-dir", "data", "where services that persist keep their files (env ATRIUM_DATA_DIR)")
	fs.StringVar(&c.token, "admin-token", "", "bearer token of the admin API (env ATRIUM_ADMIN_TOKEN)")
	return fs
}

var envOptions = []ff.Option{ff.WithEnvVarPrefix("ATRIUM")}

func root() *ffcli.Command {
	return &ffcli.Command{
		Name:       "atrium",
		ShortUsage: "atrium <up|monolith|gateway|service> [flags]",
		ShortHelp:  "a backend-for-frontend server, as a monolith or as microservices",
		Subcommands: []*ffcli.Command{
			upCommand(), monolithCommand(), gatewayCommand(), serviceCommand(),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
}
