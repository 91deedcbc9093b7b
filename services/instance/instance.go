// Package instance runs one instance of a service as its own process: the
// service's HTTP API behind the instance's middleware, the instance's admin
// routes, and its registration. It registers once it listens, renews while
// it lives, and on the way out deregisters before it drains, so that the
// gateway stops routing to it before it stops answering.
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services/fault"
)

// Header names the instance that served a request.
const Header = "X-Atrium-Instance"

// Config configures Run.
type Config struct {
	// Service is the service's name. Required.
	Service string
	// Handler serves the service's API. Required.
	Handler http.Handler
	// Faults is the service's fault injector, served under /admin/faults.
	// If nil, faults cannot be set.
	Faults *fault.Injector
	// Listener is where the instance serves. Required.
	Listener net.Listener
	// Advertise is the address to register. If empty, the listener's host,
	// or 127.0.0.1 when it listens on every interface.
	Advertise string
	// Meta is added to the instance's registry entry (the partition it
	// owns, say).
	Meta map[string]string
	// Registry, when not nil, is where the instance registers: a gateway's
	// registry API (registry.Client) or a shared engine (etcd).
	Registry registry.Registrar
	// Heartbeat is how often the registration is renewed [1s].
	Heartbeat time.Duration
	// Token is the service's credential (services.Token): every route but
	// /healthz, /readyz and /metrics needs it as a bearer token, so that
	// only the gateway (and the operator) can call the service. Required.
	Token string
	// Logger logs the access lines and the lifecycle. If nil, slog.Default().
	Logger *slog.Logger
	// Telemetry traces and measures requests. Required.
	Telemetry *telemetry.Telemetry
	// ReadTimeout bounds the reading of a whole request [15s].
	ReadTimeout time.Duration
	// Ready, if not nil, is called once the instance serves (a cluster
	// worker tells its cluster).
	Ready func() error
}

// ID is the id an instance registers under: its service, process id and
// port, unique on a machine.
func ID(service string, pid, port int) string { return fmt.Sprintf("%s-%d-%d", service, pid, port) }

// Describe returns the registry entry of the instance that cfg runs.
func Describe(cfg Config) registry.Instance {
	tcp := cfg.Listener.Addr().(*net.TCPAddr)
	inst := registry.Instance{
		ID: ID(cfg.Service, os.Getpid(), tcp.Port), Service: cfg.Service, Address: cfg.Advertise, Port: tcp.Port,
		Meta: map[string]string{"pid": strconv.Itoa(os.Getpid())},
	}
	maps.Copy(inst.Meta, cfg.Meta)
	if inst.Address == "" {
		inst.Address = "127.0.0.1"
		if !tcp.IP.IsUnspecified() {
			inst.Address = tcp.IP.String()
		}
	}
	return inst
}

// Handler returns the instance's HTTP handler: health, metrics, the admin
// routes, and the service's API, each answer naming the instance, each
// request under the deadline its caller propagated, each call to the
// service in a span "service <name>" (the span a monolith makes at its
// in-process boundary).
func Handler(cfg Config, id string, logger *slog.Logger) http.Handler {
	tel := cfg.Telemetry
	e := server.New(server.Config{Logger: logger, Telemetry: tel, AccessLevel: server.InternalLevel})
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set(Header, id)
			return next(c)
		}
	})
	e.Use(server.Deadline())
	server.Health(e, nil)
	authed := e.Group("", server.RequireToken(cfg.Token))
	if cfg.Faults != nil {
		fault.Routes(authed.Group("/admin/faults"), id, cfg.Faults)
	}
	tel.Routes(authed.Group("/admin/traces"), nil)
	authed.Any("/*", echo.WrapHandler(cfg.Handler), func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, span := tel.Span(hop.Routed(c.Request().Context()), "service", cfg.Service)
			defer span.End()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	})
	return e
}

// Run serves the instance until ctx is done and keeps it registered with
// cfg.Registry: it deregisters first, then drains.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Token == "" {
		return errors.New("instance: a service needs its credential (Token)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	inst := Describe(cfg)
	logger := cfg.Logger.With("instance", inst.ID)

	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- server.ServeWith(serveCtx, cfg.Listener, Handler(cfg, inst.ID, logger), server.Options{ReadTimeout: cfg.ReadTimeout})
	}()
	keepCtx, stopKeeping := context.WithCancel(ctx)
	defer stopKeeping()
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if cfg.Registry != nil {
			registry.Keep(keepCtx, cfg.Registry, inst, cfg.Heartbeat, logger)
		}
	}()
	logger.Info("service listening", "addr", cfg.Listener.Addr().String())
	if cfg.Ready != nil {
		if err := cfg.Ready(); err != nil {
			return err
		}
	}
	select {
	case err := <-serveErr:
		stopKeeping()
		<-kept
		return err
	case <-ctx.Done():
	}
	<-kept // deregistered
	stopServing()
	return <-serveErr
}
