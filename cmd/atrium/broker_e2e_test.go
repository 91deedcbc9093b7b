//go:build linux

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/broker"
	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/services"
)

// TestDeadLettersAreAnAdminRoute reads the broker's dead letters of a
// running server in both modes, each with its embedded NATS: an empty list
// for the admin, a 401 for anyone else.
func TestDeadLettersAreAnAdminRoute(t *testing.T) {
	for _, mode := range []string{"monolith", "up"} {
		p := start(t, mode)
		if r := p.do(t, "GET", "/admin/events/dead", "", "Authorization", "Bearer "+adminToken); r.status != 200 || string(r.body) != "[]\n" {
			t.Errorf("%s: dead letters: %d %q", mode, r.status, r.body)
		}
		if r := p.do(t, "GET", "/admin/events/dead", ""); r.status != 401 {
			t.Errorf("%s: dead letters without the admin token: %d %s", mode, r.status, r.body)
		}
	}
}

// TestAPriceChangeReachesEveryGateway runs two servers on one data
// directory and one NATS server, with the cache on for a minute, in each
// mode: a price changed through one is on the next product page and
// listing of both within seconds — the catalog's event dropped both
// gateways' cached reads, and brought the other server's catalog replica
// up to date — not after the minute.
func TestAPriceChangeReachesEveryGateway(t *testing.T) {
	for _, mode := range []string{"up", "monolith"} {
		t.Run(mode, func(t *testing.T) {
			data := t.TempDir()
			flags := []string{mode, "--cache-ttl", "1m", "--nats", testkit.NATS(t, "atrium", "prices"), "--nats-password", "prices"}
			servers := []*proc{startIn(t, data, flags...), startIn(t, data, flags...)}
			price := func(p *proc, path string) (int64, string) {
				r := p.do(t, "GET", path, "")
				var page struct {
					Product struct {
						PriceCents int64 `json:"price_cents"`
					}
					Items []struct {
						ID         string
						PriceCents int64 `json:"price_cents"`
					}
					Meta struct {
						Sources map[string]struct{ Cache string }
					} `json:"_meta"`
				}
				if r.status != 200 || json.Unmarshal(r.body, &page) != nil {
					t.Fatalf("%s: %d %s", path, r.status, r.body)
				}
				for _, it := range page.Items {
					if it.ID == "p003" {
						return it.PriceCents, page.Meta.Sources["products"].Cache
					}
				}
				return page.Product.PriceCents, page.Meta.Sources["product"].Cache
			}
			const pagePath, listPath = "/api/v1/products/p003/page", "/api/v1/products?limit=5"
			var old int64
			for _, p := range servers {
				for _, path := range []string{pagePath, listPath} {
					old, _ = price(p, path)
					if _, cache := price(p, path); cache != "hit" {
						t.Fatalf("%s: the second read is a cache %q, want a hit: the test needs the cache on", path, cache)
					}
				}
			}
			want := old + 111
			r := servers[0].do(t, "PUT", "/admin/catalog/products/p003/price", fmt.Sprintf(`{"price_cents":%d}`, want), "Authorization", "Bearer "+adminToken)
			if r.status != 200 {
				t.Fatalf("set price: %d %s", r.status, r.body)
			}
			changed := time.Now()
			for i, p := range servers {
				for _, path := range []string{pagePath, listPath} {
					for {
						got, _ := price(p, path)
						if got == want {
							t.Logf("server %d, %s: the new price after %v", i, path, time.Since(changed).Round(time.Millisecond))
							break
						}
						if time.Since(changed) > 10*time.Second {
							t.Fatalf("server %d, %s: still %d 10s after the change to %d (the cache keeps it a minute)", i, path, got, want)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
		})
	}
}

// TestEachServiceHasItsOwnBrokerAccount: in microservices mode with the
// embedded broker, a service process holds its own account, not atrium's,
// and with it can tell its own events but not another service's.
func TestEachServiceHasItsOwnBrokerAccount(t *testing.T) {
	p := start(t, "up")
	pid, _ := strconv.Atoi(p.instances(t, "inventory")[0].Meta["pid"])
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(environ), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	args := strings.Split(string(cmdline), "\x00")
	url := args[slices.Index(args, "--nats")+1]
	if env["ATRIUM_NATS_USER"] != "inventory" || env["ATRIUM_NATS_PASSWORD"] == "" || env["ATRIUM_NATS_PASSWORD"] == services.Token(adminToken, "nats") {
		t.Fatalf("inventory's broker account: user %q, password %q; want its own", env["ATRIUM_NATS_USER"], env["ATRIUM_NATS_PASSWORD"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := broker.Connect(ctx, url, broker.Options{User: "inventory", Password: env["ATRIUM_NATS_PASSWORD"], ServiceAccount: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	own, _ := event.New("inventory.checked", map[string]string{"by": "the test"})
	if err := bus.Publish(ctx, own); err != nil {
		t.Errorf("inventory's account telling of inventory: %v", err)
	}
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	forged, _ := event.New("payment.succeeded", map[string]string{"order_id": "o-000001", "payment_id": "ch-1"})
	if err := bus.Publish(short, forged); err == nil {
		t.Error("inventory's account told of a payment")
	}
}
