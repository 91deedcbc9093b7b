package registry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/registry"
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
	r := registry.NewWithClock(time.Minute, clk.now)
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
	r := registry.NewWithClock(time.Minute, clk.now)
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
	registry.Routes(e.Group("/admin/registry"), r)
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := registry.NewClient(srv.URL+"/admin/registry", "unused-here")

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
