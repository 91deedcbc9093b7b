package limit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-bff/atrium/gateway/limit"
	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestLimiters runs one suite against both limiters; with Redis, two
// limiters (two gateways) draw on one budget.
func TestLimiters(t *testing.T) {
	ctx := context.Background()
	for name, pair := range map[string]func(t *testing.T) (limit.Limiter, limit.Limiter){
		"memory": func(*testing.T) (limit.Limiter, limit.Limiter) { m := new(limit.Memory); return m, m },
		"redis": func(t *testing.T) (limit.Limiter, limit.Limiter) {
			addr := testkit.Redis(t)
			a, b := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { a.Close(); b.Close() })
			return limit.NewRedis(a), limit.NewRedis(b)
		},
	} {
		t.Run(name, func(t *testing.T) {
			one, other := pair(t)
			l := limit.Limit{Count: 10, Per: time.Second, Burst: 4}
			var allowed []bool
			for i := range 6 { // alternately on both: one budget
				lim := one
				if i%2 == 1 {
					lim = other
				}
				d, err := lim.Allow(ctx, "client:a", l)
				if err != nil {
					t.Fatal(err)
				}
				allowed = append(allowed, d.Allowed)
				if !d.Allowed && (d.RetryAfter <= 0 || d.RetryAfter > 200*time.Millisecond) {
					t.Errorf("refused with Retry-After %v, want up to a tenth of a second", d.RetryAfter)
				}
			}
			if want := []bool{true, true, true, true, false, false}; !slices.Equal(allowed, want) {
				t.Errorf("a burst of 4 then 2 more: %v, want %v", allowed, want)
			}
			if d, _ := one.Allow(ctx, "client:b", l); !d.Allowed {
				t.Error("another key shared the budget")
			}
			deadline := time.Now().Add(5 * time.Second)
			for d, _ := other.Allow(ctx, "client:a", l); !d.Allowed; d, _ = other.Allow(ctx, "client:a", l) {
				if time.Now().After(deadline) {
					t.Fatal("the bucket did not refill")
				}
				time.Sleep(d.RetryAfter)
			}
			if d, err := one.Allow(ctx, "client:c", limit.Unlimited()); err != nil || !d.Allowed {
				t.Errorf("an unlimited Limit refused: %+v %v", d, err)
			}
		})
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: testkit.FreeAddr(t), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	if _, err := limit.NewRedis(client).Allow(context.Background(), "k", limit.Limit{Count: 1, Per: time.Second, Burst: 1}); err == nil {
		t.Error("a limiter whose Redis is down said nothing")
	}
}
