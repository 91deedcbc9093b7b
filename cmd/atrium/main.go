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
	"strconv"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/telemetry"
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
	addr         string
	logLevel     string
	dataDir      string
	token        string
	otelEndpoint string
	traceSample  float64
	readTimeout  time.Duration
}

func (c *common) flags(name, defaultAddr string) *flag.FlagSet {
	fs := flag.NewFlagSet("atrium "+name, flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", defaultAddr, "listen address, host:port (env ATRIUM_ADDR)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	fs.StringVar(&c.dataDir, "data-dir", "data", "where services that persist keep their files (env ATRIUM_DATA_DIR)")
	fs.StringVar(&c.token, "admin-token", "", "bearer token of the admin API (env ATRIUM_ADMIN_TOKEN)")
	fs.StringVar(&c.otelEndpoint, "otel-endpoint", "", "OTLP/HTTP collector to export traces to, besides the in-process ring (env ATRIUM_OTEL_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.Float64Var(&c.traceSample, "otel-sample", 0.01, "fraction of new traces to sample; a request whose caller sampled its trace is always traced (env ATRIUM_OTEL_SAMPLE or OTEL_TRACES_SAMPLER_ARG)")
	fs.DurationVar(&c.readTimeout, "read-timeout", 15*time.Second, "how long a client may take to send a whole request, body included (env ATRIUM_READ_TIMEOUT)")
	return fs
}

// telemetry sets up tracing and metrics for a process named service,
// reading the standard OTEL_* variables where atrium's own are not set.
func (c *common) telemetry(ctx context.Context, service string) (*telemetry.Telemetry, error) {
	endpoint := c.otelEndpoint
	if endpoint == "" {
		endpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	sample := c.traceSample
	if v, err := strconv.ParseFloat(os.Getenv("OTEL_TRACES_SAMPLER_ARG"), 64); err == nil && os.Getenv("ATRIUM_OTEL_SAMPLE") == "" {
		sample = v
	}
	if sample == 0 {
		sample = -1 // the flag's 0 means none; the Config's 0 means the default
	}
	return telemetry.New(ctx, telemetry.Config{Service: service, Endpoint: endpoint, SampleRatio: sample})
}

// shutdown flushes telemetry on the way out, within 5 seconds.
func shutdown(tel *telemetry.Telemetry) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tel.Shutdown(ctx)
}

var envOptions = []ff.Option{ff.WithEnvVarPrefix("ATRIUM")}

func root() *ffcli.Command {
	return &ffcli.Command{
		Name:       "atrium",
		ShortUsage: "atrium <up|monolith|gateway|service|cluster|nginx-config|service-token> [flags]",
		ShortHelp:  "a backend-for-frontend server, as a monolith or as microservices",
		Subcommands: []*ffcli.Command{
			upCommand(), monolithCommand(), gatewayCommand(), serviceCommand(), clusterCommand(), nginxConfigCommand(), serviceTokenCommand(),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
}
