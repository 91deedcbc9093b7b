// Package registry is atrium's embedded service registry: service instances
// register themselves when they come online, renew their registration while
// they live, and deregister when they stop. An instance that stops renewing
// (a crash, a kill -9) expires after the TTL.
//
// Reads are lock-free snapshots, because the proxy and the balancing
// transport read the registry on every request.
package registry

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/atrium-bff/atrium/internal/domain"
)

// Instance is one running instance of a service.
type Instance struct {
	ID      string            `json:"id"`
	Service string            `json:"service"`
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Tags    []string          `json:"tags,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// HostPort returns the instance's address as host:port.
func (i Instance) HostPort() string { return net.JoinHostPort(i.Address, strconv.Itoa(i.Port)) }

// Errors of the registry.
var (
	ErrInvalid  = domain.New(domain.Invalid, "invalid instance")
	ErrNotFound = domain.New(domain.NotFound, "instance not registered")
)

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	servicePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// Validate checks an instance's fields before it is registered; the
// registry also checks its address against its Networks.
func (i Instance) Validate() error {
	switch {
	case !idPattern.MatchString(i.ID):
		return fmt.Errorf("id %q must be 1-64 of [A-Za-z0-9._-]: %w", i.ID, ErrInvalid)
	case !servicePattern.MatchString(i.Service):
		return fmt.Errorf("service %q must be a lowercase name: %w", i.Service, ErrInvalid)
	case i.Port < 1 || i.Port > 65535:
		return fmt.Errorf("port %d out of range: %w", i.Port, ErrInvalid)
	case i.Address == "" || len(i.Address) > 253:
		return fmt.Errorf("address %q: %w", i.Address, ErrInvalid)
	case len(i.Tags) > 32 || len(i.Meta) > 32:
		return fmt.Errorf("too many tags or meta entries: %w", ErrInvalid)
	}
	return nil
}

// Loopback is the default of Options.Networks: this machine only.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Options tune a Registry. The zero value takes the defaults in brackets.
type Options struct {
	// Networks are where an instance may be: a registration whose address
	// is an IP outside them is refused, so that the registry cannot be
	// told to send the gateway's traffic (and its credentials) elsewhere,
	// such as to a cloud metadata address [Loopback].
	Networks []netip.Prefix
	// Hostnames lets an instance register a host name instead of an IP
	// address; its addresses are then not checked [false].
	Hostnames bool
	// Now is the clock that stamps renewals [time.Now]. Tests move it.
	Now func() time.Time
	// OnNew, when not nil, is told of every instance registered under an id
	// the registry did not hold (a new or restarted instance), after the
	// registry holds it.
	OnNew func(Instance)
}

type entry struct {
	inst    Instance
	expires time.Time
}

// Registry holds the live instances. The zero value is not usable; call New.
type Registry struct {
	ttl  time.Duration
	opts Options

	mu      sync.Mutex // guards entries and the view's rebuild
	entries map[string]entry

	View // the live instances, for lock-free reads
}

// New returns a registry whose registrations expire ttl after their last
// renewal, with the default Options. Run must run for expired instances to
// be removed.
func New(ttl time.Duration) *Registry { return NewWithOptions(ttl, Options{}) }

// NewWithOptions is New with options.
func NewWithOptions(ttl time.Duration, opts Options) *Registry {
	if opts.Networks == nil {
		opts.Networks = Loopback
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Registry{ttl: ttl, opts: opts, entries: map[string]entry{}}
}

// Admits checks an instance's address against the networks instances
// may be in (Loopback when none) and whether a host name may stand for an
// address: one it does not admit is ErrInvalid.
func (o Options) Admits(i Instance) error {
	networks := o.Networks
	if networks == nil {
		networks = Loopback
	}
	ip, err := netip.ParseAddr(i.Address)
	if err != nil {
		if o.Hostnames {
			return nil
		}
		return fmt.Errorf("address %q is not an IP address (host names are not allowed here): %w", i.Address, ErrInvalid)
	}
	ip = ip.Unmap()
	for _, n := range networks {
		if n.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("address %s is outside the networks instances may register from (%v): %w", ip, networks, ErrInvalid)
}

// Service returns the service of the registered instance id, if any.
func (r *Registry) Service(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	return e.inst.Service, ok
}

// TTL returns how long a registration lives without renewal.
func (r *Registry) TTL() time.Duration { return r.ttl }

// Register adds an instance, or renews it when its id is already registered.
func (r *Registry) Register(inst Instance) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := r.opts.Admits(inst); err != nil {
		return err
	}
	r.mu.Lock()
	old, had := r.entries[inst.ID]
	r.entries[inst.ID] = entry{inst: inst, expires: r.opts.Now().Add(r.ttl)}
	if !had || !equal(old.inst, inst) {
		r.rebuild()
	}
	r.mu.Unlock()
	if !had && r.opts.OnNew != nil {
		r.opts.OnNew(inst)
	}
	return nil
}

func equal(a, b Instance) bool {
	return a.Service == b.Service && a.Address == b.Address && a.Port == b.Port &&
		slices.Equal(a.Tags, b.Tags) && maps.Equal(a.Meta, b.Meta)
}

// Deregister removes an instance.
func (r *Registry) Deregister(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[id]; !ok {
		return fmt.Errorf("deregister %s: %w", id, ErrNotFound)
	}
	delete(r.entries, id)
	r.rebuild()
	return nil
}

// Sweep removes the instances whose registration expired by now.
func (r *Registry) Sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for id, e := range r.entries {
		if now.After(e.expires) {
			delete(r.entries, id)
			changed = true
		}
	}
	if changed {
		r.rebuild()
	}
}

// Run sweeps expired instances until ctx is done.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(max(r.ttl/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sweep(r.opts.Now())
		}
	}
}

// rebuild publishes the entries as the view; the caller holds r.mu.
func (r *Registry) rebuild() {
	insts := make([]Instance, 0, len(r.entries))
	for _, e := range r.entries {
		insts = append(insts, e.inst)
	}
	r.Publish(insts)
}

// Observe reports, as the gauge atrium.registry.instances, how many live
// instances each of services has.
func Observe(m metric.Meter, r Engine, services []string) error {
	g, err := m.Int64ObservableGauge("atrium.registry.instances", metric.WithUnit("{instance}"),
		metric.WithDescription("Live instances by service."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, s := range services {
			o.ObserveInt64(g, int64(len(r.Instances(s))), metric.WithAttributes(attribute.String("atrium.service", s)))
		}
		return nil
	}, g)
	return err
}
