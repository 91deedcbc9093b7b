// Package stack assembles atrium's domain services: in-process (a monolith,
// or one service process) or as HTTP clients (the gateway of a
// microservices deployment). It is the one table of which services exist.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/internal/fault"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/cart/carthttp"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/catalog/cataloghttp"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/inventory/inventoryhttp"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/orders/ordershttp"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/payments/paymentshttp"
	"github.com/atrium-bff/atrium/services/recommendations"
	"github.com/atrium-bff/atrium/services/recommendations/recommendationshttp"
	"github.com/atrium-bff/atrium/services/reviews"
	"github.com/atrium-bff/atrium/services/reviews/reviewshttp"
	"github.com/atrium-bff/atrium/services/users"
	"github.com/atrium-bff/atrium/services/users/usershttp"
)

// Names lists every domain service, in start order.
var Names = []string{"catalog", "inventory", "reviews", "users", "cart", "orders", "payments", "recommendations"}

// Open builds the in-process implementation of service name, stores it
// in svc, and returns its HTTP handler and, for a service with files, what
// closes them.
func Open(name, dataDir string, svc *orchestration.Services) (http.Handler, io.Closer, error) {
	switch name {
	case "catalog":
		s := catalog.New()
		svc.Catalog = s
		return cataloghttp.NewHandler(s), nil, nil
	case "inventory":
		s, err := inventory.Open(filepath.Join(dataDir, "inventory.db"))
		if err != nil {
			return nil, nil, err
		}
		svc.Inventory = s
		return inventoryhttp.NewHandler(s), s, nil
	case "reviews":
		s := reviews.New()
		svc.Reviews = s
		return reviewshttp.NewHandler(s), nil, nil
	case "users":
		s := users.New()
		svc.Users = s
		return usershttp.NewHandler(s), nil, nil
	case "cart":
		s, err := cart.Open(filepath.Join(dataDir, "cart.db"))
		if err != nil {
			return nil, nil, err
		}
		svc.Cart = s
		return carthttp.NewHandler(s), s, nil
	case "orders":
		s, err := orders.Open(filepath.Join(dataDir, "orders.db"))
		if err != nil {
			return nil, nil, err
		}
		svc.Orders = s
		return ordershttp.NewHandler(s), s, nil
	case "payments":
		s, err := payments.Open(filepath.Join(dataDir, "payments.db"))
		if err != nil {
			return nil, nil, err
		}
		svc.Payments = s
		return paymentshttp.NewHandler(s), s, nil
	case "recommendations":
		s := recommendations.New()
		svc.Recommendations = s
		return recommendationshttp.NewHandler(s), nil, nil
	}
	return nil, nil, fmt.Errorf("no service named %q", name)
}

// Remote returns HTTP clients of every service, addressed by service
// name through rt (a balancing transport).
func Remote(rt http.RoundTripper) orchestration.Services {
	opt := rest.WithTransport(rt)
	return orchestration.Services{
		Catalog:         cataloghttp.NewClient("http://catalog", opt),
		Inventory:       inventoryhttp.NewClient("http://inventory", opt),
		Reviews:         reviewshttp.NewClient("http://reviews", opt),
		Users:           usershttp.NewClient("http://users", opt),
		Cart:            carthttp.NewClient("http://cart", opt),
		Orders:          ordershttp.NewClient("http://orders", opt),
		Payments:        paymentshttp.NewClient("http://payments", opt),
		Recommendations: recommendationshttp.NewClient("http://recommendations", opt),
	}
}

// Local is every service in-process: what a monolith serves.
type Local struct {
	// Services are the in-process implementations.
	Services orchestration.Services
	// Handlers serve each service's HTTP API, by name, behind its faults.
	Handlers map[string]http.Handler
	// Faults are each service's fault injectors: apply them to in-process
	// calls with Faults.Apply.
	Faults  fault.Local
	closers []io.Closer
}

// OpenAll opens every service in-process, keeping files under dataDir.
func OpenAll(dataDir string) (*Local, error) {
	l := &Local{Handlers: make(map[string]http.Handler, len(Names)), Faults: fault.Local{}}
	for _, name := range Names {
		h, closer, err := Open(name, dataDir, &l.Services)
		if err != nil {
			l.Close()
			return nil, err
		}
		if closer != nil {
			l.closers = append(l.closers, closer)
		}
		l.Faults[name] = new(fault.Injector)
		l.Handlers[name] = l.Faults[name].Middleware(h)
	}
	return l, nil
}

// InProcess is the in-process call boundary of a monolith, for
// orchestration.RuntimeConfig.InProcess: each call to a service is a span
// "service <name>", as it is in that service's own process in microservices
// mode, and passes the service's fault injector first. A nil tracer traces
// nothing.
func (l *Local) InProcess(tracer trace.Tracer) func(ctx context.Context, service string, call func(context.Context) error) error {
	return func(ctx context.Context, service string, call func(context.Context) error) error {
		if tracer == nil { // no span at all: not even a no-op one's cost
			if err := l.Faults.Apply(ctx, service); err != nil {
				return err
			}
			return call(ctx)
		}
		ctx, span := telemetry.Start(ctx, tracer, "service", service)
		defer span.End()
		if err := l.Faults.Apply(ctx, service); err != nil {
			span.SetStatus(codes.Error, err.Error())
			return err
		}
		return call(ctx)
	}
}

// Close closes the services' files.
func (l *Local) Close() error {
	var errs []error
	for _, c := range l.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
