package ordershttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/orders/ordershttp"
)

// partitions serves each partition of hash:n over HTTP, as its own
// instance would, and returns orders over them, with the stores behind.
func partitions(t *testing.T, n int) (orders.Service, []*orders.Store, []*httptest.Server) {
	t.Helper()
	scheme, err := partition.Parse(fmt.Sprintf("hash:%d", n))
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]orders.Service, n)
	stores := make([]*orders.Store, n)
	servers := make([]*httptest.Server, n)
	dir := t.TempDir()
	for i := range n {
		s, err := orders.OpenPart(filepath.Join(dir, fmt.Sprintf("p%d.db", i)), i, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
		servers[i] = httptest.NewServer(ordershttp.NewHandler(s))
		t.Cleanup(servers[i].Close)
		parts[i] = ordershttp.NewClient(servers[i].URL)
	}
	return orders.Partitioned(scheme, parts), stores, servers
}

func TestPartitionedConformance(t *testing.T) {
	svc, _, _ := partitions(t, 3)
	suite(t, svc)
}

func TestOrdersLiveInTheirUsersPartition(t *testing.T) {
	ctx := context.Background()
	svc, stores, servers := partitions(t, 3)
	scheme, _ := partition.Parse("hash:3")
	byUser := map[string]orders.Order{}
	for k := 1; k <= 12; k++ {
		u := fmt.Sprintf("u%02d", k)
		o, err := svc.Create(ctx, newOrder(u, "key-"+u))
		if err != nil {
			t.Fatal(err)
		}
		byUser[u] = o
		owner, _ := scheme.Owner(u)
		if p := orders.PartOf(o.ID, 3); p != owner {
			t.Errorf("%s's order %s names partition %d, the user's is %d", u, o.ID, p, owner)
		}
		for i, s := range stores {
			_, err := s.Order(ctx, o.ID)
			if (i == owner) != (err == nil) {
				t.Errorf("partition %d reading %s's order %s: %v", i, u, o.ID, err)
			}
		}
	}
	// Partition 1 goes down: its users' orders fail, naming it; the others' do not.
	servers[1].Close()
	for u, o := range byUser {
		owner, _ := scheme.Owner(u)
		_, err := svc.Order(ctx, o.ID)
		var down *partition.UnavailableError
		if owner == 1 && (!errors.As(err, &down) || down.Partition != "1") || owner != 1 && err != nil {
			t.Errorf("order of %s (partition %d) with partition 1 down: %v", u, owner, err)
		}
	}
	rec, err := svc.Since(ctx, byUser["u01"].CreatedAt, 50)
	if err != nil || !rec.Partial || len(rec.Partitions) != 3 || rec.Partitions[1].Error == "" {
		t.Errorf("Since with partition 1 down = %+v, %v; want partial", rec, err)
	}
	if _, err := svc.ByKey(ctx, "no-such-key"); !errors.As(err, new(*partition.UnavailableError)) {
		t.Errorf("ByKey of a key that may be in the partition that is down: %v, want unavailable", err)
	}
}
