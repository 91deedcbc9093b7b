package orchestration_test

import (
	"context"
	"testing"

	"github.com/atrium-bff/atrium/internal/fault"
	"github.com/atrium-bff/atrium/orchestration"
)

// BenchmarkFourSlowSources runs a composite of four sources that each take
// 20ms (injected latency): in parallel it takes about 20ms, not 80ms.
func BenchmarkFourSlowSources(b *testing.B) {
	var slow fault.Injector
	if err := slow.Set(fault.Faults{LatencyMS: 20}); err != nil {
		b.Fatal(err)
	}
	get := func(ctx context.Context) (string, error) { return "v", slow.Apply(ctx) }
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	p := orchestration.MustPlan(rt,
		fetch("a", 0, orchestration.Policy{Required: true}, get),
		fetch("b", 1, orchestration.Policy{}, get),
		fetch("c", 2, orchestration.Policy{}, get),
		fetch("d", 3, orchestration.Policy{}, get),
	)
	b.ResetTimer()
	for b.Loop() {
		var s state
		if _, err := p.Run(context.Background(), &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProductPage measures the engine's own cost: the product page's
// seven calls to in-process services that answer at once, without the
// cache (every call runs) and with it (every call is a hit).
func BenchmarkProductPage(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  orchestration.Config
	}{{"uncached", orchestration.Config{NoCache: true}}, {"cached", orchestration.Config{}}} {
		b.Run(mode.name, func(b *testing.B) {
			c := orchestration.New(localServices(b), mode.cfg)
			ctx := context.Background()
			if _, err := c.ProductPage(ctx, "p001"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.ProductPage(ctx, "p001"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
