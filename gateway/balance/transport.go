package balance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/registry"
)

// ErrNoInstance reports a service with no live instance.
var ErrNoInstance = hop.ErrNoInstance

// Resolver lists the live instances of a service. *registry.Registry is one.
type Resolver interface {
	Instances(service string) []registry.Instance
}

// NewPool returns the connection pool to service instances, for
// Transport.Base: keep-alive with enough idle connections per instance for a
// busy gateway, and bounded connect and header waits so that a hung
// instance cannot hang a request.
func NewPool() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 60 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// Transport is an http.RoundTripper that reads the request's host as a
// service name and sends the request to one of its instances, chosen by that
// service's Selector. It notes the chosen instance in the context's
// hop.Record.
//
// When the chosen instance gives no response at all (connection refused or
// reset), a request that is safe to repeat (GET, HEAD, OPTIONS, no body) is
// tried once more on another instance: a crashed instance that the registry
// has not expired yet costs no error. So is any request whose connection
// was refused, which therefore never left (its body is sent again through
// GetBody), and the refusing instance is taken out at once.
type Transport struct {
	// Resolver finds the instances. Required.
	Resolver Resolver
	// Base sends the rewritten request. If nil, http.DefaultTransport is used.
	Base http.RoundTripper
	// NewSelector makes the policy of a service the first time it is seen.
	// If nil, every service gets a RoundRobin.
	NewSelector func(service string) Selector
	// Load counts requests in flight per instance, for load-aware
	// policies. If nil, they are not counted.
	Load *Load
	// Health, when not nil, leaves out instances that are down or ejected,
	// and learns from every request's outcome.
	Health *Health

	selectors sync.Map // service name → Selector
}

func (t *Transport) selector(service string) Selector {
	if s, ok := t.selectors.Load(service); ok {
		return s.(Selector)
	}
	var s Selector = new(RoundRobin)
	if t.NewSelector != nil {
		s = t.NewSelector(service)
	}
	actual, _ := t.selectors.LoadOrStore(service, s)
	return actual.(Selector)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	service := req.URL.Hostname()
	pool := t.Resolver.Instances(service)
	if len(pool) == 0 {
		closeBody(req)
		return nil, fmt.Errorf("%s: %w", service, ErrNoInstance)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	pool = t.Health.Available(pool)
	sel := t.selector(service)
	inst := sel.Select(pool, req)
	resp, err := t.send(base, req, inst)
	if err != nil && len(pool) > 1 && (repeatable(req) || refused(err) && rewindable(req)) && req.Context().Err() == nil {
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		inst = sel.Select(without(pool, inst.ID), req)
		resp, err = t.send(base, req, inst)
	}
	if s, ok := sel.(interface {
		Stick(*http.Request, *http.Response, registry.Instance)
	}); ok && err == nil {
		s.Stick(req, resp, inst)
	}
	return resp, err
}

// send sends req to inst, counting it in flight until its body is closed
// and reporting its outcome to the health tracker.
func (t *Transport) send(base http.RoundTripper, req *http.Request, inst registry.Instance) (*http.Response, error) {
	var inflight *atomic.Int64
	if t.Load != nil {
		inflight = t.Load.counter(inst.ID)
		inflight.Add(1)
	}
	resp, err := base.RoundTrip(t.to(req, inst))
	failed := err != nil
	if err == nil {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			failed = true
		}
	}
	switch {
	case req.Context().Err() != nil: // a caller giving up says nothing of the instance
	case refused(err):
		t.Health.Refused(inst.ID)
	default:
		t.Health.Report(inst.ID, !failed)
	}
	if inflight != nil {
		if err != nil {
			inflight.Add(-1)
		} else {
			resp.Body = &countedBody{ReadCloser: resp.Body, n: inflight}
		}
	}
	return resp, err
}

// countedBody ends a request's time in flight when its body is closed.
type countedBody struct {
	io.ReadCloser
	n    *atomic.Int64
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.n.Add(-1) })
	return b.ReadCloser.Close()
}

// without returns pool less instance id.
func without(pool []registry.Instance, id string) []registry.Instance {
	out := make([]registry.Instance, 0, len(pool)-1)
	for _, inst := range pool {
		if inst.ID != id {
			out = append(out, inst)
		}
	}
	return out
}

// to returns a copy of req addressed to inst: a shallow one, with its own
// URL — the headers are shared, and nothing below changes them but the
// trace propagation (which sets the same value on every attempt).
func (t *Transport) to(req *http.Request, inst registry.Instance) *http.Request {
	hop.Observe(req.Context(), inst.ID)
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Host = inst.HostPort()
	out.URL, out.Host = &u, ""
	return out
}

// refused reports an error of a connection that was never made: the
// request did not leave.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// rewindable reports whether req's body, if any, can be sent again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func repeatable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
