// Package etcd keeps atrium's service registry in etcd, the store that
// Kubernetes keeps its own state in: each instance is a key under
// /atrium/instances/<service>/<id> attached to a lease of the registry's
// TTL, which its renewals keep alive and which etcd revokes, deleting the
// key, when they stop; every process reads the instances from a local view
// that a watch of the prefix keeps up to date. Several gateways share one
// etcd, so none of them is the registry's single point of failure.
package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/atrium-bff/atrium/registry"
)

// Prefix is where the instances' keys live.
const Prefix = "/atrium/instances/"

// Registry is an etcd-backed registry.Engine.
type Registry struct {
	client *clientv3.Client
	ttl    time.Duration
	admits func(registry.Instance) error
	logger *slog.Logger

	mu    sync.Mutex
	owned map[string]owned // the instances this process registered, by id

	registry.View // the instances, as the watch last saw them
}

// owned is an instance this process registered: its key and lease.
type owned struct {
	key   string
	lease clientv3.LeaseID
}

// Config configures New.
type Config struct {
	// Endpoints are etcd's client URLs, e.g. http://127.0.0.1:2379.
	Endpoints []string
	// TTL is how long a registration lives without renewal [3s]; etcd
	// rounds a lease up to its minimum (about 2 s).
	TTL time.Duration
	// Admission says which addresses instances may have (Networks,
	// Hostnames): checked when one registers, and on every instance the
	// watch reports, so that one written to etcd outside them is not routed
	// to [registry.Loopback only].
	Admission registry.Options
	// Logger reports the watch's troubles [slog.Default()].
	Logger *slog.Logger
	// OnNew, when not nil, is told of every instance the view gains (a new
	// or restarted instance), after the view has it.
	OnNew func(registry.Instance)
}

// New connects to etcd and starts watching the instances; the view is
// complete when New returns. Close stops it.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	r := &Registry{client: client, ttl: cfg.TTL, admits: cfg.Admission.Admits, logger: cfg.Logger, owned: map[string]owned{}}
	r.OnNew = cfg.OnNew
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	all, rev, err := r.load(ctx)
	if err != nil {
		client.Close()
		return nil, err
	}
	go r.watch(client.Ctx(), all, rev)
	return r, nil
}

// Close stops the watch and the connection. The instances this process
// registered live on until their leases run out, unless deregistered.
func (r *Registry) Close() error { return r.client.Close() }

// TTL is how long a registration lives without renewal.
func (r *Registry) TTL() time.Duration { return r.ttl }

func key(inst registry.Instance) string { return Prefix + inst.Service + "/" + inst.ID }

// Register puts inst under a lease of the TTL, or renews that lease when
// this process registered it already.
func (r *Registry) Register(ctx context.Context, inst registry.Instance) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if err := r.admits(inst); err != nil {
		return err
	}
	r.mu.Lock()
	o, had := r.owned[inst.ID]
	r.mu.Unlock()
	if had && o.key == key(inst) {
		if _, err := r.client.KeepAliveOnce(ctx, o.lease); err == nil {
			return nil
		}
		// The lease is gone (it expired while this process was away): a new one.
	}
	grant, err := r.client.Grant(ctx, int64(max(r.ttl/time.Second, 1)))
	if err != nil {
		return fmt.Errorf("register %s: lease: %w", inst.ID, err)
	}
	b, err := json.Marshal(inst)
	if err != nil {
		return err
	}
	if _, err := r.client.Put(ctx, key(inst), string(b), clientv3.WithLease(grant.ID)); err != nil {
		return fmt.Errorf("register %s: %w", inst.ID, err)
	}
	r.mu.Lock()
	r.owned[inst.ID] = owned{key: key(inst), lease: grant.ID}
	r.mu.Unlock()
	return nil
}

// Deregister deletes instance id (one this process registered, or one in
// its view) and revokes its lease.
func (r *Registry) Deregister(ctx context.Context, id string) error {
	r.mu.Lock()
	o, mine := r.owned[id]
	delete(r.owned, id)
	r.mu.Unlock()
	if !mine {
		if service, ok := r.Service(id); ok {
			o.key = key(registry.Instance{Service: service, ID: id})
		}
	}
	if o.key == "" {
		return fmt.Errorf("deregister %s: %w", id, registry.ErrNotFound)
	}
	resp, err := r.client.Delete(ctx, o.key)
	if err != nil {
		return fmt.Errorf("deregister %s: %w", id, err)
	}
	if mine {
		_, _ = r.client.Revoke(ctx, o.lease) // the key is gone already; the lease would expire anyway
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("deregister %s: %w", id, registry.ErrNotFound)
	}
	return nil
}

// load reads every instance into the view, and returns them by key and
// the revision to watch from.
func (r *Registry) load(ctx context.Context) (map[string]registry.Instance, int64, error) {
	resp, err := r.client.Get(ctx, Prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: read the instances: %w", err)
	}
	all := map[string]registry.Instance{}
	for _, kv := range resp.Kvs {
		if inst, ok := r.decode(kv.Value); ok {
			all[string(kv.Key)] = inst
		}
	}
	r.publish(all)
	return all, resp.Header.Revision, nil
}

// watch follows the prefix after revision rev, from the instances all,
// republishing the view at each change, until ctx is done; a broken watch
// (a compaction, etcd restarting) reads the whole view again and watches
// on from there.
func (r *Registry) watch(ctx context.Context, all map[string]registry.Instance, rev int64) {
	for {
		for wr := range r.client.Watch(ctx, Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := wr.Err(); err != nil {
				r.logger.Warn("etcd watch broke; reading the instances again", "err", err)
				break
			}
			for _, ev := range wr.Events {
				k := string(ev.Kv.Key)
				inst, ok := registry.Instance{}, false
				if ev.Type != clientv3.EventTypeDelete {
					inst, ok = r.decode(ev.Kv.Value)
				}
				if ok {
					all[k] = inst
				} else {
					delete(all, k)
				}
			}
			r.publish(all)
		}
		for {
			if ctx.Err() != nil {
				return
			}
			var err error
			if all, rev, err = r.load(ctx); err == nil {
				break
			}
			r.logger.Warn("etcd: reading the instances failed; trying again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// decode reads an instance from a value, leaving out one that is not
// valid or is outside the networks: what reaches etcd is not routed to
// unchecked.
func (r *Registry) decode(v []byte) (registry.Instance, bool) {
	var inst registry.Instance
	if err := json.Unmarshal(v, &inst); err != nil || inst.Validate() != nil || r.admits(inst) != nil {
		r.logger.Warn("etcd: an instance that is not valid here, left out", "value", strings.ToValidUTF8(string(v[:min(len(v), 200)]), "?"))
		return registry.Instance{}, false
	}
	return inst, true
}

// publish makes all the view.
func (r *Registry) publish(all map[string]registry.Instance) {
	r.Publish(slices.Collect(maps.Values(all)))
}

var _ registry.Engine = (*Registry)(nil)
