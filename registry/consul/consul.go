// Package consul keeps atrium's service registry in Consul: each instance
// is a Consul service registered with its agent, with a TTL check that its
// renewals pass; Consul marks it critical when they stop, and every process
// reads the passing instances from a local view that blocking queries keep
// up to date — one on the catalog's service names, one per service on its
// healthy instances.
package consul

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/atrium-bff/atrium/registry"
)

// Config configures New.
type Config struct {
	// Address is the Consul agent's HTTP address, host:port.
	Address string
	// TTL is how long a registration passes without renewal [3s].
	TTL time.Duration
	// Admission says which addresses instances may have; checked when one
	// registers and on every instance Consul reports [loopback only].
	Admission registry.Options
	// Logger reports the watches' troubles [slog.Default()].
	Logger *slog.Logger
	// OnNew, when not nil, is told of every instance the view gains.
	OnNew func(registry.Instance)
}

// Registry is a Consul-backed registry.Engine.
type Registry struct {
	client *api.Client
	cfg    Config
	wctx   context.Context // the watches' context, which Close ends
	stop   context.CancelFunc

	mu       sync.Mutex
	watched  map[string]bool                // services with a watch
	services map[string][]registry.Instance // each watched service's passing instances
	mine     map[string]bool                // ids this process registered
	registry.View
}

// New connects to the agent and starts watching; the view is complete for
// the services Consul lists when New returns. Close stops it.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	client, err := api.NewClient(&api.Config{Address: cfg.Address})
	if err != nil {
		return nil, fmt.Errorf("consul %s: %w", cfg.Address, err)
	}
	wctx, stop := context.WithCancel(context.Background())
	r := &Registry{client: client, cfg: cfg, wctx: wctx, stop: stop, watched: map[string]bool{}, services: map[string][]registry.Instance{}, mine: map[string]bool{}}
	r.OnNew = cfg.OnNew
	names, meta, err := client.Catalog().Services((&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		stop()
		return nil, fmt.Errorf("consul: list the services: %w", err)
	}
	for name := range names {
		if err := r.follow(ctx, name); err != nil {
			stop()
			return nil, err
		}
	}
	go r.watchNames(wctx, meta.LastIndex)
	return r, nil
}

// Close stops the watches.
func (r *Registry) Close() error { r.stop(); return nil }

// TTL is how long a registration passes without renewal.
func (r *Registry) TTL() time.Duration { return r.cfg.TTL }

func checkID(id string) string { return "service:" + id }

// Tag marks the Consul services that are atrium's instances: a view leaves
// out the others an agent lists (Consul's own "consul", say).
const Tag = "atrium"

// Register registers inst with the agent and a TTL check, or passes the
// check when this process registered it already.
func (r *Registry) Register(ctx context.Context, inst registry.Instance) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := r.cfg.Admission.Admits(inst); err != nil {
		return err
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	r.mu.Lock()
	mine := r.mine[inst.ID]
	r.mu.Unlock()
	if mine {
		if err := r.client.Agent().UpdateTTLOpts(checkID(inst.ID), "renewed", api.HealthPassing, q); err == nil {
			return nil
		}
		// The agent forgot it (it restarted): register again.
	}
	err := r.client.Agent().ServiceRegisterOpts(&api.AgentServiceRegistration{
		ID: inst.ID, Name: inst.Service, Address: inst.Address, Port: inst.Port, Tags: append(slices.Clone(inst.Tags), Tag), Meta: inst.Meta,
		Check: &api.AgentServiceCheck{TTL: r.cfg.TTL.String(), Status: api.HealthPassing, DeregisterCriticalServiceAfter: "1m"},
	}, api.ServiceRegisterOpts{}.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("register %s: %w", inst.ID, err)
	}
	r.mu.Lock()
	r.mine[inst.ID] = true
	r.mu.Unlock()
	return r.follow(ctx, inst.Service)
}

// Deregister removes instance id from its agent.
func (r *Registry) Deregister(ctx context.Context, id string) error {
	r.mu.Lock()
	delete(r.mine, id)
	r.mu.Unlock()
	err := r.client.Agent().ServiceDeregisterOpts(id, (&api.QueryOptions{}).WithContext(ctx))
	var se api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return fmt.Errorf("deregister %s: %w", id, registry.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("deregister %s: %w", id, err)
	}
	return nil
}

// follow starts the watch of a service the view does not follow yet, after
// reading its instances once.
func (r *Registry) follow(ctx context.Context, service string) error {
	r.mu.Lock()
	if r.watched[service] {
		r.mu.Unlock()
		return nil
	}
	r.watched[service] = true
	r.mu.Unlock()
	index, err := r.read(ctx, service, 0)
	if err != nil {
		r.mu.Lock()
		delete(r.watched, service)
		r.mu.Unlock()
		return err
	}
	wctx := r.wctx
	go func() {
		for wctx.Err() == nil {
			next, err := r.read(wctx, service, index)
			if err != nil {
				if wctx.Err() == nil {
					r.cfg.Logger.Warn("consul: watching a service failed; trying again", "service", service, "err", err)
					time.Sleep(time.Second)
				}
				continue
			}
			index = next
		}
	}()
	return nil
}

// read waits (a blocking query, when index is not 0) for a service's
// passing instances to change after index, and publishes them.
func (r *Registry) read(ctx context.Context, service string, index uint64) (uint64, error) {
	entries, meta, err := r.client.Health().Service(service, Tag, true, (&api.QueryOptions{WaitIndex: index, WaitTime: time.Minute}).WithContext(ctx))
	if err != nil {
		return index, fmt.Errorf("consul: read %s: %w", service, err)
	}
	var insts []registry.Instance
	for _, e := range entries {
		addr := e.Service.Address
		if addr == "" {
			addr = e.Node.Address
		}
		tags := slices.DeleteFunc(slices.Clone(e.Service.Tags), func(t string) bool { return t == Tag })
		if len(tags) == 0 {
			tags = nil
		}
		inst := registry.Instance{ID: e.Service.ID, Service: e.Service.Service, Address: addr, Port: e.Service.Port, Tags: tags, Meta: e.Service.Meta}
		if inst.Validate() != nil || r.cfg.Admission.Admits(inst) != nil {
			r.cfg.Logger.Warn("consul: an instance that is not valid here, left out", "id", inst.ID, "address", addr+":"+strconv.Itoa(inst.Port))
			continue
		}
		insts = append(insts, inst)
	}
	r.mu.Lock()
	r.services[service] = insts
	var all []registry.Instance
	for _, list := range r.services {
		all = append(all, list...)
	}
	r.mu.Unlock()
	r.Publish(all)
	return max(meta.LastIndex, 1), nil
}

// watchNames follows the catalog's service names, and starts a watch for
// each new one.
func (r *Registry) watchNames(ctx context.Context, index uint64) {
	for ctx.Err() == nil {
		names, meta, err := r.client.Catalog().Services((&api.QueryOptions{WaitIndex: index, WaitTime: time.Minute}).WithContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.Logger.Warn("consul: watching the services failed; trying again", "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		index = meta.LastIndex
		for name := range names {
			if err := r.follow(ctx, name); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Warn("consul: following a service failed", "service", name, "err", err)
			}
		}
	}
}

var _ registry.Engine = (*Registry)(nil)
