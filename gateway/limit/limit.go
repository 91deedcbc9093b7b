// Package limit rate-limits clients with token buckets: Memory keeps the
// buckets in one gateway process (golang.org/x/time/rate), Redis keeps them
// in Redis so that every gateway sharing it draws on one budget per client
// (github.com/go-redis/redis_rate, GCRA: a token bucket kept as one
// timestamp, updated atomically by a Lua script).
package limit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Limit is a token bucket: Count tokens come back every Per, and a full
// bucket holds Burst. The zero Limit allows everything.
type Limit struct {
	Count int
	Per   time.Duration
	Burst int
}

// Unlimited is a Limit that allows everything, for a caller whose zero
// Limit means "the default".
func Unlimited() Limit { return Limit{Count: -1} }

// Off reports whether l allows everything.
func (l Limit) Off() bool { return l.Count <= 0 || l.Per <= 0 }

func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%d per %v, burst %d", l.Count, l.Per, l.Burst)
}

// Decision is a limiter's answer: whether the request may go on, and if
// not, how long until it may.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration
}

// Limiter takes one token from key's bucket of limit l.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Decision, error)
}

// Memory keeps buckets in this process. The zero value is ready to use and
// safe for concurrent use. Buckets idle long enough to have refilled are
// forgotten, so memory stays bounded by the clients of the last minutes.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	full time.Time // when it will have refilled if left alone
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Decision, error) {
	if l.Off() {
		return Decision{Allowed: true}, nil
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = map[string]*bucket{}
	}
	if now.Sub(m.swept) > time.Minute {
		for k, b := range m.buckets {
			if now.After(b.full) {
				delete(m.buckets, k)
			}
		}
		m.swept = now
	}
	every := rate.Every(l.Per / time.Duration(l.Count))
	b, ok := m.buckets[key]
	if !ok || b.lim.Limit() != every || b.lim.Burst() != l.Burst {
		b = &bucket{lim: rate.NewLimiter(every, max(l.Burst, 1))}
		m.buckets[key] = b
	}
	b.full = now.Add(time.Duration(l.Burst) * l.Per / time.Duration(l.Count))
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return Decision{RetryAfter: delay}, nil
	}
	return Decision{Allowed: true}, nil
}

// Redis keeps buckets in Redis, under keys "rate:<key>", shared by every
// gateway that uses the same server.
type Redis struct {
	limiter *redis_rate.Limiter
}

// NewRedis returns a Limiter over client.
func NewRedis(client *redis.Client) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client)}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	if l.Off() {
		return Decision{Allowed: true}, nil
	}
	res, err := r.limiter.Allow(ctx, key, redis_rate.Limit{Rate: l.Count, Period: l.Per, Burst: max(l.Burst, 1)})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit: redis: %w", err)
	}
	if res.Allowed == 0 {
		return Decision{RetryAfter: res.RetryAfter}, nil
	}
	return Decision{Allowed: true}, nil
}

var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)
