package composite_test

import (
	"context"
	"testing"

	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services/inventory"
)

// BenchmarkProductPage measures the product page's seven calls to
// in-process services, without the cache (every call runs) and with it
// (every call is a hit). "engine" answers the stock from memory instead of
// the inventory's SQLite file, so that what it measures is the engine's own
// cost (the other services keep their data in memory already).
func BenchmarkProductPage(b *testing.B) {
	for _, mode := range []struct {
		name   string
		cfg    composite.Config
		memory bool
	}{
		{"uncached", composite.Config{NoCache: true}, false},
		{"uncached/engine", composite.Config{NoCache: true}, true},
		{"cached", composite.Config{}, false},
	} {
		b.Run(mode.name, func(b *testing.B) {
			svc := localServices(b)
			if mode.memory {
				svc.Inventory = memoryStock{svc.Inventory}
			}
			c := composite.New(svc, mode.cfg)
			ctx := context.Background()
			if _, err := c.ProductPage(ctx, "p001", 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.ProductPage(ctx, "p001", 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// memoryStock answers every product's stock from memory, at no cost.
type memoryStock struct{ inventory.Service }

func (memoryStock) Stock(_ context.Context, id string) (inventory.Stock, error) {
	return inventory.Stock{ProductID: id, Available: 10}, nil
}

func (memoryStock) Stocks(_ context.Context, ids []string) ([]inventory.Stock, error) {
	out := make([]inventory.Stock, len(ids))
	for i, id := range ids {
		out[i] = inventory.Stock{ProductID: id, Available: 10}
	}
	return out, nil
}
