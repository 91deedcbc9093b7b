// Command atrium runs the atrium BFF server: the whole microservices
// topology (up), a monolith, or one piece (gateway, service NAME).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/services"
)

// gcPercent is atrium's garbage collection target (GOGC) unless the
// environment sets one: a server's live heap is small and nearly all its
// garbage is per request, so collecting when the heap has grown to five
// times what is live, rather than twice, cuts the collector's share of a
// proxied request's CPU for a few tens of megabytes (docs/architecture.md,
// the hot path).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := root()
	err := cmd.Parse(os.Args[1:])
	if err == nil {
		err = cmd.Run(ctx)
	} else if !errors.Is(err, flag.ErrHelp) {
		msg := err.Error() // a flag it does not know, a value it cannot read
		if strings.HasSuffix(msg, ": parse error") {
			msg += " (a duration has a unit, as 2s, 500ms or 1m; a number is written 10 or 0.5)"
		}
		err = usageError{msg}
	}
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "atrium: %s\nrun atrium -h for the commands, atrium COMMAND -h for a command's flags\n", usage.msg)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "atrium:", err)
		os.Exit(1)
	}
}

// usageError is a command line atrium cannot run: it exits with 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// noArgs refuses the arguments of a command that takes none (flags come
// before arguments: a flag after a stray argument is one too).
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, and was given %q", name, args)}
	}
	return nil
}

// version is this binary's version: the module's, and the commit it was
// built from when the build knows it.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "atrium (unknown version)"
	}
	v, rev, dirty := info.Main.Version, "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+changes"
			}
		}
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return fmt.Sprintf("atrium %s %s", v, info.GoVersion)
}

// logging is the flags of a process's log: its level and format.
type logging struct {
	level, format choice
}

func (l *logging) flags(fs *flag.FlagSet) {
	l.level = choice{value: "info", of: []string{"debug", "info", "warn", "error"}}
	l.format = choice{value: "auto", of: []string{"auto", "json", "text"}}
	fs.Var(&l.level, "log-level", "debug, info, warn or error (env ATRIUM_LOG_LEVEL)")
	fs.Var(&l.format, "log-format", "json (one object a line) or text (key=value, for a person); auto: text at a terminal, json otherwise (env ATRIUM_LOG_FORMAT)")
}

// logger is the log of the process named component, on standard error.
func (l *logging) logger(component string) *slog.Logger {
	return server.NewLogger(os.Stderr, l.level.value, l.format.value, component)
}

// args are the flags that give another atrium process the same log.
func (l *logging) args() []string {
	return []string{"--log-level", l.level.value, "--log-format", l.format.value}
}

// choice is a flag that takes one of a few values, and says which when
// given another.
type choice struct {
	value string
	of    []string
}

func (c *choice) String() string { return c.value }

func (c *choice) Set(s string) error {
	if !slices.Contains(c.of, s) {
		return fmt.Errorf("want %s", strings.Join(c.of, ", "))
	}
	c.value = s
	return nil
}

// common holds the flags every server subcommand takes.
type common struct {
	addr string
	logging
	dataDir      string
	database     database
	token        string
	otelEndpoint string
	traceSample  float64
	readTimeout  time.Duration
}

func (c *common) flags(name, defaultAddr string) *flag.FlagSet {
	fs := flag.NewFlagSet("atrium "+name, flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", defaultAddr, "listen address, host:port (env ATRIUM_ADDR)")
	c.logging.flags(fs)
	fs.StringVar(&c.dataDir, "data-dir", "data", "where services that persist keep their files (env ATRIUM_DATA_DIR)")
	fs.Var(&c.database, "database", "the `URL` of a PostgreSQL database for the services' state and the saga log, postgres://user:password@host:5432/db, a schema per service; empty for SQLite files in --data-dir (env ATRIUM_DATABASE)")
	fs.StringVar(&c.token, "admin-token", "", "bearer token of the admin API (env ATRIUM_ADMIN_TOKEN)")
	fs.StringVar(&c.otelEndpoint, "otel-endpoint", "", "OTLP/HTTP collector to export traces to, besides the in-process ring (env ATRIUM_OTEL_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.Float64Var(&c.traceSample, "otel-sample", 0.01, "fraction of new traces to sample; a request whose caller sampled its trace is always traced (env ATRIUM_OTEL_SAMPLE or OTEL_TRACES_SAMPLER_ARG)")
	fs.DurationVar(&c.readTimeout, "read-timeout", 15*time.Second, "how long a client may take to send a whole request, body included (env ATRIUM_READ_TIMEOUT)")
	return fs
}

// storage is where the services and the saga log keep their state.
func (c *common) storage() services.Storage {
	return services.Storage{Dir: c.dataDir, Database: string(c.database)}
}

// database is the value of --database: a PostgreSQL URL, or "" for SQLite.
type database string

func (d *database) String() string { return string(*d) }

func (d *database) Set(s string) error {
	if _, err := url.Parse(s); err != nil || (s != "" && !sqldb.IsPostgres(s)) {
		return errors.New("want a PostgreSQL URL, postgres://user:password@host:5432/db (or nothing, for SQLite files in --data-dir)")
	}
	*d = database(s)
	return nil
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
	fs := flag.NewFlagSet("atrium", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	return &ffcli.Command{
		Name:       "atrium",
		ShortUsage: "atrium [--version] <up|monolith|gateway|service|cluster|nginx-config|service-token|scale> [flags]",
		ShortHelp:  "a backend-for-frontend server, as a monolith or as microservices",
		FlagSet:    fs,
		Subcommands: []*ffcli.Command{
			upCommand(), monolithCommand(), gatewayCommand(), serviceCommand(), clusterCommand(), nginxConfigCommand(), serviceTokenCommand(), scaleCommand(),
		},
		Exec: func(_ context.Context, args []string) error {
			switch {
			case *showVersion:
				fmt.Println(version())
				return nil
			case len(args) > 0:
				return usageError{fmt.Sprintf("no command %q", args[0])}
			}
			return flag.ErrHelp
		},
	}
}
