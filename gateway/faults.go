package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/gateway/balance"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/telemetry"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/fault"
)

// Faults sets and reports the faults injected into a service: in-process
// (fault.Local) in a monolith, on every instance (RemoteFaults) in
// microservices mode.
type Faults interface {
	// Set sets the faults of service; nil clears them.
	Set(ctx context.Context, service string, f *fault.Faults) (fault.Report, error)
	Get(ctx context.Context, service string) (fault.Report, error)
}

// faultRoutes serves the faults API under g (guarded by the admin token):
//
//	GET|PUT|DELETE {g}/services/{name}/faults
func faultRoutes(g *echo.Group, f Faults) {
	reply := func(c echo.Context, r fault.Report, err error) error { return rest.Reply(c, http.StatusOK, r, err) }
	g.GET("/services/:name/faults", func(c echo.Context) error {
		r, err := f.Get(c.Request().Context(), c.Param("name"))
		return reply(c, r, err)
	})
	g.PUT("/services/:name/faults", func(c echo.Context) error {
		var in fault.Faults
		if err := rest.Bind(c, &in); err != nil {
			return err
		}
		if err := in.Validate(); err != nil {
			return err
		}
		r, err := f.Set(c.Request().Context(), c.Param("name"), &in)
		return reply(c, r, err)
	})
	g.DELETE("/services/:name/faults", func(c echo.Context) error {
		r, err := f.Set(c.Request().Context(), c.Param("name"), nil)
		return reply(c, r, err)
	})
}

// RemoteFaults reaches the faults API of every live instance of a service,
// through the registry.
type RemoteFaults struct {
	// Resolver lists the instances. Required.
	Resolver balance.Resolver
	// Secret is the admin token, from which each service's credential
	// derives (services.Token).
	Secret string
}

// Set implements Faults.
func (r RemoteFaults) Set(ctx context.Context, service string, f *fault.Faults) (fault.Report, error) {
	return r.each(ctx, service, func(c *fault.Client) (fault.InstanceFaults, error) { return c.Set(ctx, f) })
}

// Get implements Faults.
func (r RemoteFaults) Get(ctx context.Context, service string) (fault.Report, error) {
	return r.each(ctx, service, func(c *fault.Client) (fault.InstanceFaults, error) { return c.Get(ctx) })
}

func (r RemoteFaults) each(ctx context.Context, service string, call func(*fault.Client) (fault.InstanceFaults, error)) (fault.Report, error) {
	if !services.Known(service) {
		return fault.Report{}, fmt.Errorf("faults of %q: %w", service, fault.ErrUnknownService)
	}
	insts := r.Resolver.Instances(service)
	if len(insts) == 0 {
		return fault.Report{}, fmt.Errorf("faults of %s: %w", service, balance.ErrNoInstance)
	}
	rep := fault.Report{Service: service, Instances: []fault.InstanceReport{}}
	for _, inst := range insts {
		got, err := call(fault.NewClient("http://"+inst.HostPort()+"/admin/faults", services.Token(r.Secret, service)))
		if err != nil {
			rep.Unreachable = append(rep.Unreachable, inst.ID)
			continue
		}
		rep.Faults = got.Faults
		rep.Instances = append(rep.Instances, fault.InstanceReport{ID: got.ID, Calls: got.Calls})
	}
	if len(rep.Instances) == 0 {
		return fault.Report{}, fmt.Errorf("faults of %s: none of its %d instances answered: %w", service, len(insts), balance.ErrNoInstance)
	}
	return rep, nil
}

// InstancePeers lists every live instance of reg as a peer of the traces
// API, with its service's credential derived from secret.
func InstancePeers(reg registry.Engine, secret string) telemetry.Peers {
	return func() []telemetry.Peer {
		var peers []telemetry.Peer
		for _, inst := range reg.All() {
			peers = append(peers, telemetry.Peer{URL: "http://" + inst.HostPort(), Token: services.Token(secret, inst.Service)})
		}
		return peers
	}
}
