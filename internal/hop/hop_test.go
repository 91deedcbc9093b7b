package hop_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/hop"
)

func TestABudgetTravelsInItsHeader(t *testing.T) {
	h := http.Header{}
	if _, ok := hop.Budget(h); ok {
		t.Error("a budget read where none was sent")
	}
	hop.SetBudget(h, 1500*time.Millisecond)
	if d, ok := hop.Budget(h); !ok || d != 1500*time.Millisecond {
		t.Errorf("budget %v %v, want 1.5s", d, ok)
	}
	hop.SetBudget(h, time.Microsecond) // what is left of a budget nearly spent
	if d, ok := hop.Budget(h); !ok || d != time.Millisecond {
		t.Errorf("budget %v %v, want the least, 1ms", d, ok)
	}
	for _, bad := range []string{"0", "-5", "soon", "1e3"} {
		h.Set(hop.TimeoutHeader, bad)
		if d, ok := hop.Budget(h); ok {
			t.Errorf("%q read as a budget of %v", bad, d)
		}
	}
}
