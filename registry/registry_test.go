package registry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/registry"
	"github.com/atrium-bff/atrium/registry/registrytest"
)

func inst(id, service string, port int) registry.Instance {
	return registry.Instance{ID: id, Service: service, Address: "127.0.0.1", Port: port}
}

func ids(insts []registry.Instance) []string {
	out := []string{}
	for _, i := range insts {
		out = append(out, i.ID)
	}
	return out
}

// clock is a registry's clock that moves only when told to.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRegisterExpireDeregister(t *testing.T) {
	clk := &clock{time.Unix(1_000_000, 0)}
	r := registry.NewWithOptions(time.Minute, registry.Options{Now: clk.now})
	for _, i := range []registry.Instance{inst("c-2", "catalog", 2), inst("c-1", "catalog", 1), inst("r-1", "reviews", 3)} {
		if err := r.Register(i); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(r.Instances("catalog")); len(got) != 2 || got[0] != "c-1" || got[1] != "c-2" {
		t.Errorf("catalog instances = %v, want [c-1 c-2] (sorted by id)", got)
	}
	if got := ids(r.All()); len(got) != 3 {
		t.Errorf("All = %v", got)
	}
	if err := r.Deregister("c-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Deregister("c-1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second Deregister err = %v, want ErrNotFound", err)
	}
	if got := ids(r.Instances("catalog")); len(got) != 1 || got[0] != "c-2" {
		t.Errorf("after deregistering c-1: %v", got)
	}
	r.Sweep(clk.t.Add(time.Minute))
	if got := r.All(); len(got) != 2 {
		t.Errorf("at the TTL exactly: %v, want c-2 and r-1 still", ids(got))
	}
	r.Sweep(clk.t.Add(time.Minute + time.Nanosecond))
	if got := r.All(); len(got) != 0 {
		t.Errorf("after the TTL passed: %v, want none", ids(got))
	}
}

func TestRenewalKeepsAnInstanceAlive(t *testing.T) {
	clk := &clock{time.Unix(1_000_000, 0)}
	r := registry.NewWithOptions(time.Minute, registry.Options{Now: clk.now})
	r.Register(inst("c-1", "catalog", 1))
	r.Register(inst("c-2", "catalog", 2))
	clk.t = clk.t.Add(10 * time.Second)
	r.Register(inst("c-1", "catalog", 1))
	// Sweep at a moment past c-2's expiry but not c-1's renewed one: only c-1 stays.
	r.Sweep(clk.t.Add(time.Minute - 5*time.Second))
	if got := ids(r.Instances("catalog")); len(got) != 1 || got[0] != "c-1" {
		t.Errorf("after sweep: %v, want [c-1]", got)
	}
}

func TestValidate(t *testing.T) {
	r := registry.New(time.Minute)
	for _, bad := range []registry.Instance{
		inst("", "catalog", 1), inst("a b", "catalog", 1), inst("x", "Catalog", 1),
		inst("x", "catalog", 0), inst("x", "catalog", 70000), {ID: "x", Service: "catalog", Port: 1},
	} {
		if err := r.Register(bad); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("Register(%+v) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestKeepRegistersThenDeregisters(t *testing.T) {
	r := registry.New(time.Minute)
	e := server.New(server.Config{MapError: registry.Problem})
	registered := make(chan struct{}, 100)
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			if c.Request().Method == http.MethodPut && err == nil {
				registered <- struct{}{}
			}
			return err
		}
	})
	registry.Routes(e.Group("/admin/registry"), registry.Embedded{Registry: r}, tokens)
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := registry.NewClient(srv.URL+"/admin/registry", "admin")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		registry.Keep(ctx, client, inst("c-9", "catalog", 9), 5*time.Millisecond, nil)
	}()
	select {
	case <-registered:
	case <-time.After(10 * time.Second):
		t.Fatal("Keep never registered")
	}
	listed, err := client.Instances(context.Background(), "catalog")
	if err != nil || len(listed) != 1 || listed[0].ID != "c-9" {
		t.Errorf("listed = %v, %v", listed, err)
	}
	cancel()
	<-done
	if got := r.All(); len(got) != 0 {
		t.Errorf("after Keep returned: %v still registered", ids(got))
	}
	if err := client.Register(context.Background(), inst("bad id", "catalog", 1)); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("registering a bad instance over HTTP: err = %v, want ErrInvalid", err)
	}
}

func TestRegistrationAddressesAreChecked(t *testing.T) {
	at := func(addr string) registry.Instance {
		return registry.Instance{ID: "c-1", Service: "catalog", Address: addr, Port: 9}
	}
	def := registry.New(time.Minute)
	for addr, ok := range map[string]bool{
		"127.0.0.1": true, "127.5.6.7": true, "::1": true, "::ffff:127.0.0.1": true,
		"169.254.169.254": false, "10.0.0.5": false, "0.0.0.0": false, "8.8.8.8": false,
		"localhost": false, "metadata.google.internal": false, "127.0.0.1:80": false,
	} {
		if err := def.Register(at(addr)); (err == nil) != ok || err != nil && !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("default registry, address %q: %v; want ok=%v", addr, err, ok)
		}
	}
	cluster := registry.NewWithOptions(time.Minute, registry.Options{
		Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Hostnames: true})
	for addr, ok := range map[string]bool{"10.0.0.5": true, "127.0.0.1": false, "169.254.169.254": false, "catalog.svc.local": true} {
		if err := cluster.Register(at(addr)); (err == nil) != ok {
			t.Errorf("10.0.0.0/8 with host names, address %q: %v; want ok=%v", addr, err, ok)
		}
	}
}

// tokens admits "admin" everywhere and "catalog-token" for catalog.
func tokens(c echo.Context, service string) error {
	return server.CheckTokens(c, func(got string) bool {
		return got == "admin" || got == "catalog-token" && (service == "catalog" || service == registry.AnyService)
	})
}

func TestAServiceCredentialRegistersOnlyItsOwnService(t *testing.T) {
	r := registry.New(time.Minute)
	e := server.New(server.Config{MapError: registry.Problem})
	registry.Routes(e.Group("/admin/registry"), registry.Embedded{Registry: r}, tokens)
	srv := httptest.NewServer(e)
	defer srv.Close()
	ctx := context.Background()
	asCatalog := registry.NewClient(srv.URL+"/admin/registry", "catalog-token")
	if err := asCatalog.Register(ctx, inst("c-1", "catalog", 1)); err != nil {
		t.Fatalf("catalog registering itself: %v", err)
	}
	for name, err := range map[string]error{
		"another service":        asCatalog.Register(ctx, inst("r-1", "reviews", 2)),
		"moving an instance":     asCatalog.Register(ctx, inst("r-0", "reviews", 3)),
		"listing every instance": func() error { _, err := asCatalog.Instances(ctx, ""); return err }(),
		"no credential":          registry.NewClient(srv.URL+"/admin/registry", "").Register(ctx, inst("c-2", "catalog", 4)),
		"a forged credential":    registry.NewClient(srv.URL+"/admin/registry", "catalog-tokem").Register(ctx, inst("c-2", "catalog", 4)),
		"the metadata address":   asCatalog.Register(ctx, registry.Instance{ID: "c-3", Service: "catalog", Address: "169.254.169.254", Port: 80}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	admin := registry.NewClient(srv.URL+"/admin/registry", "admin")
	if err := admin.Register(ctx, inst("r-0", "reviews", 3)); err != nil {
		t.Fatal(err)
	}
	if err := asCatalog.Register(ctx, inst("r-0", "catalog", 3)); err == nil {
		t.Error("catalog's credential took over a reviews instance")
	}
	if err := asCatalog.Deregister(ctx, "r-0"); err == nil {
		t.Error("catalog's credential deregistered a reviews instance")
	}
	if err := asCatalog.Deregister(ctx, "c-1"); err != nil {
		t.Errorf("catalog deregistering itself: %v", err)
	}
	if got := ids(r.All()); len(got) != 1 || got[0] != "r-0" {
		t.Errorf("registered: %v, want r-0 only", got)
	}
}

// TestConformance runs the registry suite against the embedded registry.
func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T, ttl time.Duration) (registry.Engine, func() registry.Engine) {
		r := registry.New(ttl)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go r.Run(ctx)
		return registry.Embedded{Registry: r}, nil
	})
}
