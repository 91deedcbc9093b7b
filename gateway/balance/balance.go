// Package balance spreads requests over a service's instances: Selector is
// the load-balancing policy, and Transport is the client-side (peer-to-peer)
// balancer that turns "http://catalog/..." into a request to one live
// instance of catalog. The gateway's API proxy and its service clients both
// send through a Transport, so one mechanism balances all traffic.
package balance

import (
	"net/http"
	"sync/atomic"

	"github.com/atrium-bff/atrium/registry"
)

// Selector picks one instance of pool for r. pool is never empty.
type Selector interface {
	Select(pool []registry.Instance, r *http.Request) registry.Instance
}

// RoundRobin picks instances in turn.
type RoundRobin struct {
	next atomic.Uint64
}

// Select implements Selector.
func (rr *RoundRobin) Select(pool []registry.Instance, _ *http.Request) registry.Instance {
	return pool[(rr.next.Add(1)-1)%uint64(len(pool))]
}

var _ Selector = (*RoundRobin)(nil)
