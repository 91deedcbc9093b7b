package composite_test

import (
	"context"
	"testing"

	"github.com/atrium-bff/atrium/orchestration/composite"
)

// BenchmarkProductPage measures the engine's own cost: the product page's
// seven calls to in-process services that answer at once, without the
// cache (every call runs) and with it (every call is a hit).
func BenchmarkProductPage(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  composite.Config
	}{{"uncached", composite.Config{NoCache: true}}, {"cached", composite.Config{}}} {
		b.Run(mode.name, func(b *testing.B) {
			c := composite.New(localServices(b), mode.cfg)
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
