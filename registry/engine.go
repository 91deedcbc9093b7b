package registry

import (
	"context"
	"time"
)

// Engine is where service instances are registered and found: the
// embedded registry (a gateway's memory, the default) or etcd. Instances
// register with a TTL and renew before it runs out; a gateway reads a
// service's live instances from its local view, which the engine keeps up
// to date by watching, so that a read costs no round trip.
type Engine interface {
	// Register registers inst, or renews its registration, for the
	// engine's TTL. An invalid instance, or one whose address is outside
	// the networks instances may be in, is ErrInvalid.
	Register(ctx context.Context, inst Instance) error
	// Deregister removes instance id at once; an unknown id is
	// ErrNotFound.
	Deregister(ctx context.Context, id string) error
	// Instances returns the live instances of a service in this process's
	// view, ordered by id. The slice is shared: callers must not modify it.
	Instances(service string) []Instance
	// All returns every live instance in this process's view, ordered by
	// service then id.
	All() []Instance
	// Service returns the service of instance id in this process's view.
	Service(id string) (string, bool)
	// TTL is how long a registration lives without renewal.
	TTL() time.Duration
}

// Registrar is what an instance keeps its registration with: an Engine,
// or a Client of a gateway's registry API.
type Registrar interface {
	Register(ctx context.Context, inst Instance) error
	Deregister(ctx context.Context, id string) error
}

// Embedded is the embedded registry as an Engine.
type Embedded struct{ *Registry }

// Register registers or renews inst.
func (e Embedded) Register(_ context.Context, inst Instance) error { return e.Registry.Register(inst) }

// Deregister removes instance id.
func (e Embedded) Deregister(_ context.Context, id string) error { return e.Registry.Deregister(id) }
