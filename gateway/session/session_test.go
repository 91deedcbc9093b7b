package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestStores runs one suite against every Store: in memory, and in a real
// Redis.
func TestStores(t *testing.T) {
	stores := map[string]func(t *testing.T, ttl time.Duration) session.Store{
		"memory": func(_ *testing.T, ttl time.Duration) session.Store { return &session.Memory{TTL: ttl} },
		"redis": func(t *testing.T, ttl time.Duration) session.Store {
			client := redis.NewClient(&redis.Options{Addr: testkit.Redis(t)})
			t.Cleanup(func() { client.Close() })
			return session.Redis{Client: client, TTL: ttl}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, time.Hour)
			a, err := s.Create(ctx, "u01")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := s.Create(ctx, "u02")
			if len(a) < 64 || a == b {
				t.Errorf("tokens %q and %q: want 32 random bytes each, distinct", a, b)
			}
			if u, err := s.User(ctx, a); u != "u01" || err != nil {
				t.Errorf("User(a) = %q, %v; want u01", u, err)
			}
			for _, bad := range []string{"", "nope", a + "x"} {
				if _, err := s.User(ctx, bad); !errors.Is(err, session.ErrNoSession) {
					t.Errorf("User(%q) err = %v, want ErrNoSession", bad, err)
				}
			}
			if err := s.Delete(ctx, a); err != nil {
				t.Fatal(err)
			}
			if _, err := s.User(ctx, a); !errors.Is(err, session.ErrNoSession) {
				t.Errorf("a deleted session still names a user: %v", err)
			}
			if err := s.Delete(ctx, a); err != nil {
				t.Errorf("deleting an ended session: %v, want no error", err)
			}
			if u, err := s.User(ctx, b); u != "u02" || err != nil {
				t.Errorf("deleting a also ended b: %q, %v", u, err)
			}

			short := open(t, 50*time.Millisecond)
			c, _ := short.Create(ctx, "u03")
			deadline := time.Now().Add(5 * time.Second)
			for _, err := short.User(ctx, c); err == nil; _, err = short.User(ctx, c) {
				if time.Now().After(deadline) {
					t.Fatal("a session outlived its TTL by 5 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
