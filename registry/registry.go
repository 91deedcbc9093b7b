// Package registry is atrium's embedded service registry: service instances
// register themselves when they come online, renew their registration while
// they live, and deregister when they stop. An instance that stops renewing
// (a crash, a kill -9) expires after the TTL.
//
// Reads are lock-free snapshots, because the proxy and the balancing
// transport read the registry on every request.
package registry

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// Validate checks an instance before it is registered.
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

type entry struct {
	inst    Instance
	expires time.Time
}

// Registry holds the live instances. The zero value is not usable; call New.
type Registry struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex // guards entries and the snapshot's rebuild
	entries map[string]entry

	snapshot atomic.Pointer[map[string][]Instance] // service → instances by id
}

// New returns a registry whose registrations expire ttl after their last
// renewal. Run must run for expired instances to be removed.
func New(ttl time.Duration) *Registry {
	return NewWithClock(ttl, time.Now)
}

// NewWithClock is New with the clock that stamps renewals; Sweep is given
// the time to compare them with. Tests use it to expire instances without
// waiting.
func NewWithClock(ttl time.Duration, now func() time.Time) *Registry {
	r := &Registry{ttl: ttl, now: now, entries: map[string]entry{}}
	r.snapshot.Store(&map[string][]Instance{})
	return r
}

// TTL returns how long a registration lives without renewal.
func (r *Registry) TTL() time.Duration { return r.ttl }

// Register adds an instance, or renews it when its id is already registered.
func (r *Registry) Register(inst Instance) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.entries[inst.ID]
	r.entries[inst.ID] = entry{inst: inst, expires: r.now().Add(r.ttl)}
	if !had || !equal(old.inst, inst) {
		r.rebuild()
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

// Instances returns the live instances of a service, ordered by id. The
// slice is shared: callers must not modify it.
func (r *Registry) Instances(service string) []Instance {
	return (*r.snapshot.Load())[service]
}

// All returns every live instance, ordered by service then id.
func (r *Registry) All() []Instance {
	snap := *r.snapshot.Load()
	out := []Instance{}
	for _, name := range slices.Sorted(maps.Keys(snap)) {
		out = append(out, snap[name]...)
	}
	return out
}

// Ready returns a readiness check that passes when every one of services
// has a live instance.
func (r *Registry) Ready(services []string) func(context.Context) error {
	return func(context.Context) error {
		var missing []string
		for _, name := range services {
			if len(r.Instances(name)) == 0 {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no live instance of %s", strings.Join(missing, ", "))
		}
		return nil
	}
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
			r.Sweep(r.now())
		}
	}
}

// rebuild publishes a new snapshot; the caller holds r.mu.
func (r *Registry) rebuild() {
	snap := map[string][]Instance{}
	for _, e := range r.entries {
		snap[e.inst.Service] = append(snap[e.inst.Service], e.inst)
	}
	for _, insts := range snap {
		slices.SortFunc(insts, func(a, b Instance) int { return cmp.Compare(a.ID, b.ID) })
	}
	r.snapshot.Store(&snap)
}

// Observe reports, as the gauge atrium.registry.instances, how many live
// instances each of services has.
func Observe(m metric.Meter, r *Registry, services []string) error {
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
