// Command atrium-compare runs the monolith and the microservices side by
// side on this machine, under the same bounded load, and writes the report
// (make compare). It is a binary of its own so that its load generator and
// charts are not linked into the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/atrium-bff/atrium/compare"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "atrium-compare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "go-proxy" {
		return goProxy(ctx, args[1:])
	}
	fs := flag.NewFlagSet("atrium-compare", flag.ContinueOnError)
	atrium := fs.String("atrium", "", "the atrium binary to compare; default: atrium beside this binary (env ATRIUM_COMPARE_ATRIUM)")
	duration := fs.Duration("duration", 5*time.Second, "length of each measured load run; the whole comparison takes about 25 of them (env ATRIUM_COMPARE_DURATION)")
	rate := fs.Int("rate", 200, "requests per second of the open-loop runs (env ATRIUM_COMPARE_RATE)")
	workers := fs.Int("workers", 32, "concurrent clients of the closed-loop runs (env ATRIUM_COMPARE_WORKERS)")
	out := fs.String("out", "docs/comparison.md", "the Markdown report; the JSON and the SVG charts go beside it (env ATRIUM_COMPARE_OUT)")
	scenarios := fs.String("scenarios", "", "comma-separated subset of steady,latency,saturation,isolation,scaling,deploy,proxy,checkout,storage (env ATRIUM_COMPARE_SCENARIOS)")
	database := fs.String("database", "", "PostgreSQL URL for the storage scenario; default: a throw-away cluster on loopback, if PostgreSQL is installed (env ATRIUM_COMPARE_DATABASE)")
	flags := fs.String("flags", "", "flags added to every server's command line, space-separated, e.g. '--otel-sample 1' (env ATRIUM_COMPARE_FLAGS)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: atrium-compare [--duration 5s] [--rate 200] [--out docs/comparison.md]")
		fmt.Fprintln(fs.Output(), "       atrium-compare go-proxy ADDR UPSTREAM   (the proxy scenario's Go floor; the credential in ATRIUM_COMPARE_PROXY_TOKEN)")
		fs.PrintDefaults()
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("ATRIUM_COMPARE")); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *atrium == "" {
		*atrium = filepath.Join(filepath.Dir(self), "atrium")
	}
	cfg := compare.Config{
		GoProxy: []string{self, "go-proxy"},
		Binary:  *atrium, Duration: *duration, Rate: *rate, Workers: *workers, Progress: os.Stderr, Database: *database,
		Command: strings.TrimSpace("atrium-compare " + strings.Join(args, " ")),
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(*scenarios, ",")
	}
	cfg.Flags = strings.Fields(*flags)
	rep, err := compare.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report written to %s\n", *out)
	return nil
}

// goProxy serves compare.GoProxy: atrium-compare go-proxy ADDR UPSTREAM.
func goProxy(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return errors.New("usage: atrium-compare go-proxy ADDR UPSTREAM")
	}
	// It sends the catalog's credential for whoever calls it: a benchmark
	// peer, never to be reached from another machine.
	if host, _, err := net.SplitHostPort(args[0]); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("go-proxy: %q is not a loopback address (127.0.0.1:PORT)", args[0])
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	return compare.GoProxy(ctx, ln, args[1], os.Getenv("ATRIUM_COMPARE_PROXY_TOKEN"))
}
