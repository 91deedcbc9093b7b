package orchestration_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
)

// tagged is a cached read of the product named by the state's key, whose
// value lists the products it carries (its tags), as "p1,p2=price".
// With hold, a call says it began on began and waits for hold to close.
func tagged(calls *atomic.Int32, price *atomic.Int32, began, hold chan struct{}) orchestration.Step[state] {
	return orchestration.Fetch[state, string]{Name: "products", Service: "svc-catalog",
		Policy: orchestration.Policy{CacheTTL: time.Hour},
		Key:    func(s *state) string { return s.key },
		Tags:   func(v string) []string { ids, _, _ := strings.Cut(v, "="); return strings.Split(ids, ",") },
		Get: func(ctx context.Context, s *state) (string, error) {
			calls.Add(1)
			if hold != nil {
				began <- struct{}{}
				<-hold
			}
			return s.key + "=" + string(rune('0'+price.Load())), nil
		},
		Set: func(s *state, v string) { s.vals[0] = v }}
}

func TestInvalidateDropsWhatATagTouches(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	var calls, price atomic.Int32
	p := plan(t, rt, tagged(&calls, &price, nil, nil))
	read := func(key string) string {
		s := state{key: key}
		if _, err := p.Run(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
		return s.vals[0]
	}
	read("p1,p2")
	read("p3")
	read("p1,p2")
	if calls.Load() != 2 {
		t.Fatalf("%d calls for two keys read three times, want 2 (cached)", calls.Load())
	}
	price.Store(1)
	rt.Invalidate("p2")
	if v := read("p1,p2"); v != "p1,p2=1" || calls.Load() != 3 {
		t.Errorf("after Invalidate(p2): %q after %d calls; want the new price from a new call", v, calls.Load())
	}
	if v := read("p3"); v != "p3=0" || calls.Load() != 3 {
		t.Errorf("p3, which p2's change does not touch: %q after %d calls; want it still cached", v, calls.Load())
	}
	rt.Invalidate("p9") // nothing cached carries it
	if read("p1,p2"); calls.Load() != 3 {
		t.Errorf("Invalidate of an untouched tag dropped p1,p2")
	}
}

// TestAReadInFlightDuringInvalidateIsNotCached: a read that began before
// the change may carry the old price; it answers its caller but is not
// kept.
func TestAReadInFlightDuringInvalidateIsNotCached(t *testing.T) {
	rt := orchestration.NewRuntime(orchestration.RuntimeConfig{})
	var calls, price atomic.Int32
	began, hold := make(chan struct{}, 1), make(chan struct{})
	p := plan(t, rt, tagged(&calls, &price, began, hold))
	done := make(chan string)
	go func() {
		s := state{key: "p1"}
		p.Run(context.Background(), &s)
		done <- s.vals[0]
	}()
	<-began
	rt.Invalidate("p1")
	close(hold)
	if v := <-done; v != "p1=0" {
		t.Fatalf("the read in flight answered %q", v)
	}
	price.Store(1)
	s := state{key: "p1"}
	if _, err := p.Run(context.Background(), &s); err != nil || s.vals[0] != "p1=1" || calls.Load() != 2 {
		t.Errorf("next read: %q after %d calls (%v); want a new call with the new price, the old read not cached", s.vals[0], calls.Load(), err)
	}
}
