// Package registrytest is the conformance suite every registry.Engine
// passes: the embedded registry's and etcd's tests run it.
package registrytest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/registry"
)

// Open returns a fresh engine whose registrations live ttl without
// renewal, and a function that opens another view of the same
// registrations where the engine is shared (etcd; nil where it lives in
// one process, as the embedded registry does).
type Open func(t *testing.T, ttl time.Duration) (e registry.Engine, another func() registry.Engine)

// Run runs the suite against open.
func Run(t *testing.T, open Open) {
	const ttl = 2 * time.Second
	ctx := context.Background()
	inst := func(service, id string, port int) registry.Instance {
		return registry.Instance{ID: id, Service: service, Address: "127.0.0.1", Port: port, Meta: map[string]string{"pid": "1"}}
	}
	ids := func(e registry.Engine, service string) []string {
		var out []string
		for _, i := range e.Instances(service) {
			out = append(out, i.ID)
		}
		return out
	}

	t.Run("a registered instance is found, ordered by id, renewed in place", func(t *testing.T) {
		e, _ := open(t, ttl)
		for _, i := range []registry.Instance{inst("catalog", "catalog-2", 2), inst("catalog", "catalog-1", 1), inst("cart", "cart-1", 3)} {
			if err := e.Register(ctx, i); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "both catalog instances in order", func() bool { return slices.Equal(ids(e, "catalog"), []string{"catalog-1", "catalog-2"}) })
		if err := e.Register(ctx, inst("catalog", "catalog-1", 1)); err != nil {
			t.Fatal(err)
		}
		if got := e.Instances("catalog"); len(got) != 2 || got[0].Port != 1 || got[0].Meta["pid"] != "1" {
			t.Errorf("after a renewal: %+v", got)
		}
		eventually(t, "the cart instance", func() bool { return slices.Equal(ids(e, "cart"), []string{"cart-1"}) }) // each service's view may follow on its own
		if got := e.Instances("nobody"); len(got) != 0 {
			t.Errorf("an unknown service has %v", got)
		}
	})

	t.Run("what may not be routed to is refused", func(t *testing.T) {
		e, _ := open(t, ttl)
		for name, bad := range map[string]registry.Instance{
			"no id":            inst("catalog", "", 1),
			"a bad service":    inst("Catalog!", "c-1", 1),
			"no port":          inst("catalog", "c-1", 0),
			"outside networks": {ID: "c-1", Service: "catalog", Address: "169.254.169.254", Port: 80},
			"a host name":      {ID: "c-1", Service: "catalog", Address: "metadata.internal", Port: 80},
		} {
			if err := e.Register(ctx, bad); !errors.Is(err, registry.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
	})

	t.Run("a deregistered instance is gone", func(t *testing.T) {
		e, _ := open(t, ttl)
		if err := e.Register(ctx, inst("reviews", "reviews-1", 1)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the instance", func() bool { return len(e.Instances("reviews")) == 1 })
		if err := e.Deregister(ctx, "reviews-1"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "no instance", func() bool { return len(e.Instances("reviews")) == 0 })
		if err := e.Deregister(ctx, "reviews-1"); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("deregistered twice: %v, want ErrNotFound", err)
		}
	})

	t.Run("an instance that stops renewing expires", func(t *testing.T) {
		e, _ := open(t, ttl)
		if err := e.Register(ctx, inst("users", "users-1", 1)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the instance", func() bool { return len(e.Instances("users")) == 1 })
		start := time.Now()
		eventually(t, "its expiry", func() bool { return len(e.Instances("users")) == 0 })
		if since := time.Since(start); since < ttl/2 {
			t.Errorf("gone %v after its registration, before its TTL %v", since, ttl)
		}
	})

	t.Run("every view of a shared engine sees every instance", func(t *testing.T) {
		a, another := open(t, ttl)
		if another == nil {
			t.Skip("the engine lives in one process")
		}
		b := another()
		if err := a.Register(ctx, inst("orders", "orders-1", 1)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the other view to see it", func() bool { return slices.Equal(ids(b, "orders"), []string{"orders-1"}) })
		if err := b.Deregister(ctx, "orders-1"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the first view to see it go", func() bool { return len(a.Instances("orders")) == 0 })
	})
}

// eventually polls cond, failing the test after 10 s: views follow their
// store by watching it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
