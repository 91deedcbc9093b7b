package balance

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/atrium-bff/atrium/registry"
)

// Load counts the requests each instance has in flight. The Transport keeps
// it; load-aware policies read it. The zero value is ready to use.
type Load struct {
	m sync.Map // instance id → *atomic.Int64
}

func (l *Load) counter(id string) *atomic.Int64 {
	if c, ok := l.m.Load(id); ok {
		return c.(*atomic.Int64)
	}
	c, _ := l.m.LoadOrStore(id, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// InFlight returns how many requests instance id has in flight.
func (l *Load) InFlight(id string) int64 { return l.counter(id).Load() }

// LeastConnections picks the instance with the fewest requests in flight,
// the first of them from a rotating start so that ties spread.
type LeastConnections struct {
	Load *Load
	next atomic.Uint64
}

// Select implements Selector.
func (lc *LeastConnections) Select(pool []registry.Instance, _ *http.Request) registry.Instance {
	start := int(lc.next.Add(1) % uint64(len(pool)))
	best, bestLoad := pool[start], lc.Load.InFlight(pool[start].ID)
	for i := 1; i < len(pool); i++ {
		inst := pool[(start+i)%len(pool)]
		if n := lc.Load.InFlight(inst.ID); n < bestLoad {
			best, bestLoad = inst, n
		}
	}
	return best
}

// PowerOfTwo picks two instances at random and takes the one with fewer
// requests in flight: nearly as good as least-connections, at the cost of
// two reads.
type PowerOfTwo struct {
	Load *Load
}

// Select implements Selector.
func (p PowerOfTwo) Select(pool []registry.Instance, _ *http.Request) registry.Instance {
	if len(pool) == 1 {
		return pool[0]
	}
	i := rand.IntN(len(pool))
	j := rand.IntN(len(pool) - 1)
	if j >= i {
		j++
	}
	if p.Load.InFlight(pool[j].ID) < p.Load.InFlight(pool[i].ID) {
		return pool[j]
	}
	return pool[i]
}

// Sticky sends a client back to the instance named in its cookie; a new
// client, or one whose instance is gone, gets the Fallback's choice (no
// error) and a cookie naming it.
type Sticky struct {
	Cookie   string
	Fallback Selector
}

// Select implements Selector.
func (s Sticky) Select(pool []registry.Instance, r *http.Request) registry.Instance {
	if c, err := r.Cookie(s.Cookie); err == nil {
		for _, inst := range pool {
			if inst.ID == c.Value {
				return inst
			}
		}
	}
	return s.Fallback.Select(pool, r)
}

// Stick sets the cookie on a response when the request did not carry the
// instance that answered.
func (s Sticky) Stick(r *http.Request, resp *http.Response, inst registry.Instance) {
	if c, err := r.Cookie(s.Cookie); err == nil && c.Value == inst.ID {
		return
	}
	resp.Header.Add("Set-Cookie", (&http.Cookie{Name: s.Cookie, Value: inst.ID, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
}

// Hash sends every request with the same key, the value of a header, to the
// same instance, by rendezvous hashing: when an instance leaves, only its
// keys move. Requests without the key get the Fallback's choice.
type Hash struct {
	Header   string
	Fallback Selector
}

// Select implements Selector.
func (h Hash) Select(pool []registry.Instance, r *http.Request) registry.Instance {
	key := r.Header.Get(h.Header)
	if key == "" {
		return h.Fallback.Select(pool, r)
	}
	var best registry.Instance
	var bestScore uint64
	for _, inst := range pool {
		f := fnv.New64a()
		f.Write([]byte(inst.ID))
		f.Write([]byte{0})
		f.Write([]byte(key))
		if s := mix(f.Sum64()); s >= bestScore {
			best, bestScore = inst, s
		}
	}
	return best
}

// mix is MurmurHash3's 64-bit finaliser: FNV's high bits barely change with
// the last bytes, and rendezvous hashing compares whole scores.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Policy names a policy for configuration: "round-robin" (the default),
// "least-conn", "p2c", "sticky" (cookie atrium_<service>), or
// "hash:<header>".
func Policy(name, service string, load *Load) (Selector, error) {
	switch {
	case name == "" || name == "round-robin":
		return new(RoundRobin), nil
	case name == "least-conn":
		return &LeastConnections{Load: load}, nil
	case name == "p2c":
		return PowerOfTwo{Load: load}, nil
	case name == "sticky":
		return Sticky{Cookie: "atrium_" + service, Fallback: new(RoundRobin)}, nil
	case strings.HasPrefix(name, "hash:") && len(name) > len("hash:"):
		return Hash{Header: strings.TrimPrefix(name, "hash:"), Fallback: new(RoundRobin)}, nil
	}
	return nil, fmt.Errorf("balance: no policy %q (round-robin, least-conn, p2c, sticky, hash:<header>)", name)
}

var (
	_ Selector = (*LeastConnections)(nil)
	_ Selector = PowerOfTwo{}
	_ Selector = Sticky{}
	_ Selector = Hash{}
)
