// Package services is the one table of atrium's domain services: each
// service's name, its in-process implementation with its HTTP handler, and
// its HTTP client. Every mode reads it — the monolith opens every service
// in-process, a service process opens one, the gateway builds a client of
// each — so adding a service is one row here and its package.
//
// The services themselves live in the sub-packages (services/catalog, …),
// each with its transport in a suffixed sub-package (cataloghttp); they
// never import each other.
package services

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/cart/carthttp"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/catalog/cataloghttp"
	"github.com/atrium-bff/atrium/services/fault"
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
	"github.com/atrium-bff/atrium/services/search"
	"github.com/atrium-bff/atrium/services/search/searchhttp"
	"github.com/atrium-bff/atrium/services/users"
	"github.com/atrium-bff/atrium/services/users/usershttp"
)

// Name is a service's name: its key in the registry, its path in the API
// proxy (/services/{name}/…), and the label of its breaker and retry budget.
type Name = string

// The services' names. Code refers to a service by one of these, never by a
// string literal, so that a typo is a compile error rather than, say, a new
// circuit breaker; orchestration.RuntimeConfig.Services catches the rest
// when a plan is built.
const (
	Catalog         Name = "catalog"
	Inventory       Name = "inventory"
	Reviews         Name = "reviews"
	Users           Name = "users"
	Cart            Name = "cart"
	Orders          Name = "orders"
	Payments        Name = "payments"
	Recommendations Name = "recommendations"
	Search          Name = "search"
)

// Set holds one implementation of every service's contract: in-process
// implementations in a monolith, HTTP clients in microservices mode. It is
// what the composites call.
type Set struct {
	Catalog         catalog.Service
	Inventory       inventory.Service
	Reviews         reviews.Service
	Users           users.Service
	Cart            cart.Service
	Orders          orders.Service
	Payments        payments.Service
	Recommendations recommendations.Service
	Search          search.Service
}

// Storage is where the services keep their state: SQLite files in Dir by
// default; or, when Database is a PostgreSQL URL (postgres://…), a schema
// of that database per service — the database-per-service rule — for
// every service but search, whose full-text index is SQLite's (FTS5) and
// a read model its events rebuild, kept in Dir.
type Storage struct {
	Dir, Database string
}

// Place is where the database called name lives (sqldb.Place).
func (st Storage) Place(name string) string { return sqldb.Place(st.Dir, st.Database, name) }

// service is one row of the table.
type service struct {
	name Name
	// open builds the in-process implementation with its state in st,
	// stores it in set, and returns its HTTP handler and what closes its
	// database (nil for none).
	open func(st Storage, set *Set) (http.Handler, io.Closer, error)
	// impl returns the implementation in set, for Local.Start to find
	// what publishes and follows events.
	impl func(set *Set) any
	// client stores into set an HTTP client of the service at baseURL.
	client func(baseURL string, set *Set, opts ...rest.Option)
	// surface is each route of the service and who may call it from
	// outside, as the service declares it.
	surface rest.Surface
	// serve returns the HTTP handler of the implementation in set.
	serve func(set *Set) http.Handler
	// parted is how the service runs partitioned; nil if it cannot.
	parted *parted
}

// parted is a partitioned service's part of the table: its partitions
// opened one by one, and joined behind one implementation.
type parted struct {
	// check refuses a scheme under which some of the service's data would
	// be in no partition.
	check func(scheme partition.Scheme) error
	// open builds partition i in-process and stores it in set, as open
	// does the whole service.
	open func(st Storage, scheme partition.Scheme, i int, set *Set) (http.Handler, io.Closer, error)
	// join stores into set the service over the partitions that parts
	// hold, each an implementation of the service stored by fill.
	join func(scheme partition.Scheme, set *Set, fill []func(*Set))
}

// table lists every service, in start order.
var table = []service{
	row(Catalog,
		func(st Storage) (catalog.Service, io.Closer, error) {
			return closing(catalog.Open(st.Place("catalog")))
		},
		cataloghttp.NewHandler, cataloghttp.NewClient, func(s *Set) *catalog.Service { return &s.Catalog }, cataloghttp.Surface),
	row(Inventory,
		func(st Storage) (inventory.Service, io.Closer, error) {
			return closing(inventory.Open(st.Place("inventory")))
		},
		inventoryhttp.NewHandler, inventoryhttp.NewClient, func(s *Set) *inventory.Service { return &s.Inventory }, inventoryhttp.Surface),
	row(Reviews,
		func(Storage) (reviews.Service, io.Closer, error) { return reviews.New(), nil, nil },
		reviewshttp.NewHandler, reviewshttp.NewClient, func(s *Set) *reviews.Service { return &s.Reviews }, reviewshttp.Surface),
	partitioned(row(Users,
		func(Storage) (users.Service, io.Closer, error) { return users.New(), nil, nil },
		usershttp.NewHandler, usershttp.NewClient, func(s *Set) *users.Service { return &s.Users }, usershttp.Surface),
		users.CheckSeed,
		func(_ Storage, scheme partition.Scheme, i int) (users.Service, io.Closer, error) {
			return users.NewPart(users.Partition(scheme, i)), nil, nil
		},
		users.Partitioned, usershttp.NewHandler, func(s *Set) *users.Service { return &s.Users }),
	row(Cart,
		func(st Storage) (cart.Service, io.Closer, error) {
			return closing(cart.Open(st.Place("cart")))
		},
		carthttp.NewHandler, carthttp.NewClient, func(s *Set) *cart.Service { return &s.Cart }, carthttp.Surface),
	partitioned(row(Orders,
		func(st Storage) (orders.Service, io.Closer, error) {
			return closing(orders.Open(st.Place("orders")))
		},
		ordershttp.NewHandler, ordershttp.NewClient, func(s *Set) *orders.Service { return &s.Orders }, ordershttp.Surface),
		orders.CheckScheme,
		func(st Storage, scheme partition.Scheme, i int) (orders.Service, io.Closer, error) {
			// A database per partition, named for the scheme too: another
			// scheme's partition i holds other users' orders.
			name := fmt.Sprintf("orders-%s-%d-p%d", scheme.Kind(), scheme.Len(), i)
			return closing(orders.OpenPart(st.Place(name), i, scheme.Len()))
		},
		orders.Partitioned, ordershttp.NewHandler, func(s *Set) *orders.Service { return &s.Orders }),
	row(Payments,
		func(st Storage) (payments.Service, io.Closer, error) {
			return closing(payments.Open(st.Place("payments")))
		},
		paymentshttp.NewHandler, paymentshttp.NewClient, func(s *Set) *payments.Service { return &s.Payments }, paymentshttp.Surface),
	row(Recommendations,
		func(Storage) (recommendations.Service, io.Closer, error) { return recommendations.New(), nil, nil },
		recommendationshttp.NewHandler, recommendationshttp.NewClient, func(s *Set) *recommendations.Service { return &s.Recommendations }, recommendationshttp.Surface),
	row(Search,
		func(st Storage) (search.Service, io.Closer, error) {
			return closing(search.Open(filepath.Join(st.Dir, "search.db"))) // FTS5: SQLite's own
		},
		searchhttp.NewHandler, searchhttp.NewClient, func(s *Set) *search.Service { return &s.Search }, searchhttp.Surface),
}

// Names lists every service, in start order.
var Names = func() []Name {
	names := make([]Name, len(table))
	for i, s := range table {
		names[i] = s.name
	}
	return names
}()

// Surface returns who may call each route of the service name from
// outside; nil for a name that is no service's.
func Surface(name Name) rest.Surface {
	if i := slices.IndexFunc(table, func(s service) bool { return s.name == name }); i >= 0 {
		return table[i].surface
	}
	return nil
}

// Token is the credential of service name, derived from secret (the admin
// token): the gateway sends it with every call to the service, the service
// accepts no call without it, and it registers instances of that service
// only. A service process holds its own token, never the secret, and the
// secret cannot be worked back from it.
func Token(secret string, name Name) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("atrium service credential\x00" + name))
	return hex.EncodeToString(mac.Sum(nil))
}

// publishes are the subjects of each service's events (broker.Subjects):
// what its account on the broker may publish.
var publishes = map[Name][]string{
	Catalog: {"catalog.>"}, Inventory: {"inventory.>"}, Orders: {"order.>"}, Payments: {"payment.>"}, Cart: {"cart.>"},
}

// Publishes returns the subjects service name may publish on the broker:
// its own events, none for a service that tells of none.
func Publishes(name Name) []string {
	if p := publishes[name]; p != nil {
		return p
	}
	return []string{}
}

// Known reports whether a service is named name.
func Known(name string) bool { return slices.Contains(Names, name) }

// row makes a table row from a service's constructors: open builds the
// in-process implementation, handler serves one over HTTP, client calls
// one, field says where a Set keeps it, and surface is who may call which
// of its routes from outside.
func row[S any](name Name, open func(st Storage) (S, io.Closer, error), handler func(S) http.Handler,
	client func(baseURL string, opts ...rest.Option) S, field func(*Set) *S, surface rest.Surface) service {
	return service{
		name:    name,
		surface: surface,
		open: func(st Storage, set *Set) (http.Handler, io.Closer, error) {
			impl, closer, err := open(st)
			if err != nil {
				return nil, nil, fmt.Errorf("open %s: %w", name, err)
			}
			*field(set) = impl
			return handler(impl), closer, nil
		},
		client: func(baseURL string, set *Set, opts ...rest.Option) { *field(set) = client(baseURL, opts...) },
		serve:  func(set *Set) http.Handler { return handler(*field(set)) },
		impl:   func(set *Set) any { return *field(set) },
	}
}

// partitioned makes s a service that may run partitioned: check refuses a
// scheme that would lose data, open builds one partition, join puts the
// partitions behind one implementation; handler and field are the row's.
func partitioned[S any](s service, check func(partition.Scheme) error, open func(st Storage, scheme partition.Scheme, i int) (S, io.Closer, error),
	join func(partition.Scheme, []S) S, handler func(S) http.Handler, field func(*Set) *S) service {
	s.parted = &parted{
		check: check,
		open: func(st Storage, scheme partition.Scheme, i int, set *Set) (http.Handler, io.Closer, error) {
			impl, closer, err := open(st, scheme, i)
			if err != nil {
				return nil, nil, fmt.Errorf("open %s partition %s: %w", s.name, scheme.Name(i), err)
			}
			*field(set) = impl
			return handler(impl), closer, nil
		},
		join: func(scheme partition.Scheme, set *Set, fill []func(*Set)) {
			parts := make([]S, len(fill))
			for i, f := range fill {
				var one Set
				f(&one)
				parts[i] = *field(&one)
			}
			*field(set) = join(scheme, parts)
		},
	}
	return s
}

// closing adapts the result of a store's Open: the store is also what
// closes its files.
func closing[T io.Closer](s T, err error) (T, io.Closer, error) {
	if err != nil {
		return s, nil, err
	}
	return s, s, nil
}

// Remote returns an HTTP client of every service, each addressed by its
// name (http://catalog), sent through rt, a transport that resolves the
// name to a live instance, with the service's credential derived from
// secret (Token); an empty secret sends none. A service that parts
// partitions is a client of each partition, addressed by partition.Host
// (http://p1.users), joined behind one implementation.
func Remote(rt http.RoundTripper, secret string, parts Partitioning) Set {
	var set Set
	for _, s := range table {
		opts := []rest.Option{rest.WithTransport(rt)}
		if secret != "" {
			opts = append(opts, rest.WithHeader("Authorization", "Bearer "+Token(secret, s.name)))
		}
		scheme := parts[s.name]
		if scheme == nil {
			s.client("http://"+s.name, &set, opts...)
			continue
		}
		fill := make([]func(*Set), scheme.Len())
		for i := range fill {
			fill[i] = func(one *Set) { s.client("http://"+partition.Host(s.name, i), one, opts...) }
		}
		s.parted.join(scheme, &set, fill)
	}
	return set
}

// Serve returns the HTTP handler of service name's implementation in set:
// a gateway's own API for a partitioned service, which sends each request
// to the partitions that can answer it.
func Serve(name Name, set *Set) http.Handler {
	return table[slices.IndexFunc(table, func(s service) bool { return s.name == name })].serve(set)
}

// Partitioning is the partitioned services (the Z axis), each with its
// scheme; the others run whole.
type Partitioning map[Name]partition.Scheme

// ParsePartitioning reads "users=range:A-D,E-P,Q-Z" (more services
// separated by spaces), checking that each service can run partitioned and
// that its scheme loses none of its data.
func ParsePartitioning(v string) (Partitioning, error) {
	parts := Partitioning{}
	for _, one := range strings.Fields(v) {
		name, spec, ok := strings.Cut(one, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want service=scheme, as users=range:A-D,E-P,Q-Z", one)
		}
		i := slices.IndexFunc(table, func(s service) bool { return s.name == name })
		switch {
		case i < 0:
			return nil, fmt.Errorf("no service named %q; known: %v", name, Names)
		case table[i].parted == nil:
			return nil, fmt.Errorf("%s cannot run partitioned; %s can", name, strings.Join(Partitionable(), ", "))
		case parts[name] != nil:
			return nil, fmt.Errorf("%s is partitioned twice", name)
		}
		scheme, err := partition.Parse(spec)
		if err != nil {
			return nil, err
		}
		if err := table[i].parted.check(scheme); err != nil {
			return nil, err
		}
		parts[name] = scheme
	}
	return parts, nil
}

// Partitionable lists the services that can run partitioned.
func Partitionable() []Name {
	var out []Name
	for _, s := range table {
		if s.parted != nil {
			out = append(out, s.name)
		}
	}
	return out
}

// Routes lists the names a gateway's balancer resolves: each service's,
// or each partition's host of a partitioned one (partition.Host).
func (p Partitioning) Routes() []string {
	var out []string
	for _, name := range Names {
		scheme := p[name]
		if scheme == nil {
			out = append(out, name)
			continue
		}
		for i := range scheme.Len() {
			out = append(out, partition.Host(name, i))
		}
	}
	return out
}

// Local is services in-process: a monolith's, or a service process's own.
type Local struct {
	// Set has the in-process implementations; the fields of services not
	// opened are nil.
	Set Set
	// Handlers serve each service's HTTP API, by name, behind its faults.
	Handlers map[Name]http.Handler
	// Faults are each service's fault injectors; InProcess applies them to
	// in-process calls.
	Faults  fault.Local
	closers []io.Closer
	names   []Name // opened, in order
}

// Open opens the named services in-process (every service when none is
// named), keeping their state in st. A service that parts
// partitions opens each of its partitions, joined behind one
// implementation, as a monolith runs the Z axis.
func Open(st Storage, parts Partitioning, names ...Name) (*Local, error) {
	if len(names) == 0 {
		names = Names
	}
	l := &Local{Handlers: make(map[Name]http.Handler, len(names)), Faults: fault.Local{}}
	for _, name := range names {
		i := slices.IndexFunc(table, func(s service) bool { return s.name == name })
		if i < 0 {
			l.Close()
			return nil, fmt.Errorf("no service named %q; known: %v", name, Names)
		}
		s := table[i]
		open := s.open
		if scheme := parts[name]; scheme != nil {
			open = func(st Storage, set *Set) (http.Handler, io.Closer, error) {
				return l.openParts(s, st, scheme, set)
			}
		}
		h, closer, err := open(st, &l.Set)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.add(name, h, closer)
	}
	return l, nil
}

// OpenPart opens partition i of service name under scheme in-process, with
// its state in st: a service process that owns one partition.
func OpenPart(st Storage, name Name, scheme partition.Scheme, i int) (*Local, error) {
	j := slices.IndexFunc(table, func(s service) bool { return s.name == name })
	switch {
	case j < 0:
		return nil, fmt.Errorf("no service named %q; known: %v", name, Names)
	case table[j].parted == nil:
		return nil, fmt.Errorf("%s cannot run partitioned; %s can", name, strings.Join(Partitionable(), ", "))
	case i < 0 || i >= scheme.Len():
		return nil, fmt.Errorf("%s has no partition %d", scheme, i)
	}
	l := &Local{Handlers: map[Name]http.Handler{}, Faults: fault.Local{}}
	h, closer, err := table[j].parted.open(st, scheme, i, &l.Set)
	if err != nil {
		return nil, err
	}
	l.add(name, h, closer)
	return l, nil
}

// openParts opens every partition of s and stores them, joined, in set;
// the handler serves the joined service.
func (l *Local) openParts(s service, st Storage, scheme partition.Scheme, set *Set) (http.Handler, io.Closer, error) {
	opened := make([]Set, scheme.Len())
	fill := make([]func(*Set), scheme.Len())
	for i := range opened {
		_, closer, err := s.parted.open(st, scheme, i, &opened[i])
		if err != nil {
			return nil, nil, err
		}
		if closer != nil {
			l.closers = append(l.closers, closer)
		}
		fill[i] = func(one *Set) { *one = opened[i] }
	}
	s.parted.join(scheme, set, fill)
	return s.serve(set), nil, nil
}

// add keeps a service's handler, behind a fault injector of its own, and
// what closes its files.
func (l *Local) add(name Name, h http.Handler, closer io.Closer) {
	l.names = append(l.names, name)
	if closer != nil {
		l.closers = append(l.closers, closer)
	}
	l.Faults[name] = new(fault.Injector)
	l.Handlers[name] = l.Faults[name].Middleware(h)
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

// Broker is what services need of the message broker (broker.Bus).
type Broker interface {
	Publish(ctx context.Context, e event.Event) error
	Follow(ctx context.Context, subjects []string, handle broker.Handler) error
	Consume(ctx context.Context, durable string, subjects []string, handle broker.Handler) (*broker.Consumption, error)
}

// publisher is a store with an outbox of events.
type publisher interface {
	Relay(publish event.Publish) *event.Relay
}

// follower is a store that follows events (a replica learning what another
// changed).
type follower interface {
	Follows() []string
	Changed(ctx context.Context, e event.Event) error
	// Reload reads again what may have changed before it followed.
	Reload(ctx context.Context) error
}

// consumer is a store that takes events through a durable consumer of its
// own, shared by its replicas: a read model (search) that must see every
// event, even one published while it was down.
type consumer interface {
	Consumes() (durable string, subjects []string)
	Handle(ctx context.Context, e event.Event) error
}

// RelayInterval is how often an outbox is looked at besides when a commit
// wakes its relay.
const RelayInterval = time.Second

// Start connects the services opened in-process to bus until ctx ends: it
// relays each outbox to the broker, has each store that follows events
// follow them, and each that consumes events consume them.
func (l *Local) Start(ctx context.Context, bus Broker, logger *slog.Logger) error {
	for _, name := range l.names {
		impl := table[slices.IndexFunc(table, func(s service) bool { return s.name == name })].impl(&l.Set)
		impls := []any{impl}
		if p, ok := impl.(interface{ Parts() []any }); ok { // a service partitioned in-process
			impls = p.Parts()
		}
		for _, impl := range impls {
			if err := start(ctx, name, impl, bus, logger); err != nil {
				return err
			}
		}
	}
	return nil
}

// start connects one in-process implementation of service name to bus.
func start(ctx context.Context, name Name, impl any, bus Broker, logger *slog.Logger) error {
	if p, ok := impl.(publisher); ok {
		r := p.Relay(bus.Publish)
		r.Logger = logger
		go r.Run(ctx, RelayInterval)
	}
	if f, ok := impl.(follower); ok {
		if err := bus.Follow(ctx, f.Follows(), f.Changed); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := f.Reload(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if c, ok := impl.(consumer); ok {
		durable, subjects := c.Consumes()
		cons, err := bus.Consume(ctx, durable, subjects, c.Handle)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		go func() { <-ctx.Done(); cons.Stop() }()
	}
	return nil
}

// Close closes the services' files.
func (l *Local) Close() error {
	var errs []error
	for _, c := range l.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
