package balance

import (
	"testing"

	"github.com/atrium-bff/atrium/registry"
)

func TestOneMissedCheckIsNotDown(t *testing.T) {
	pool := []registry.Instance{{ID: "a"}, {ID: "b"}}
	h := new(Health)
	avail := func() int { return len(h.Available(pool)) }
	h.checked("a", false)
	if n := avail(); n != 2 {
		t.Fatalf("after one missed check: %d available, want 2", n)
	}
	h.checked("a", false)
	if n := avail(); n != 1 {
		t.Fatalf("after two missed checks: %d available, want 1", n)
	}
	h.checked("a", true)
	if n := avail(); n != 2 {
		t.Fatalf("after a passed check: %d available, want 2", n)
	}
	h.checked("a", false)
	if n := avail(); n != 2 {
		t.Fatalf("a pass resets the count: %d available after one more miss, want 2", n)
	}
}
