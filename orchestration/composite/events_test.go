package composite_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services/catalog"
)

// laggingCatalog is a catalog replica that has not read a price change
// yet: it answers the price the test holds.
type laggingCatalog struct {
	catalog.Service
	cents *atomic.Int64
}

func (l laggingCatalog) Product(ctx context.Context, id string) (catalog.Product, error) {
	p, err := l.Service.Product(ctx, id)
	p.PriceCents = l.cents.Load()
	return p, err
}

// A gateway told of a price change before the catalog replica it reads
// from caches the old price again on the next read; the second drop, a
// moment later, lets the new price through well before the cache's TTL.
func TestAPriceChangeOutrunsALaggingReplica(t *testing.T) {
	svc := localServices(t)
	var cents atomic.Int64
	cents.Store(1000)
	svc.Catalog = laggingCatalog{svc.Catalog, &cents}
	c := composite.New(svc, composite.Config{CacheTTL: time.Hour})
	ctx := context.Background()
	price := func() int64 {
		page, err := c.ProductPage(ctx, "p001", 0)
		if err != nil {
			t.Fatal(err)
		}
		return page.Product.PriceCents
	}
	price()
	c.ProductChanged("p001") // the event reaches the gateway first
	if got := price(); got != 1000 {
		t.Fatalf("price = %d before the replica refreshed, want the old 1000", got)
	}
	cents.Store(1200) // now the replica has it
	if got := price(); got != 1000 {
		t.Fatalf("price = %d: the page was not cached again (the test needs it)", got)
	}
	for deadline := time.Now().Add(10 * time.Second); price() != 1200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old price stayed cached 10 s after the change; the cache keeps it an hour")
		}
	}
}
