package orchestration_test

import (
	"context"
	"testing"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services/fault"
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
