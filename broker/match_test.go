package broker

import "testing"

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"inventory.>", "inventory.committed", true},
		{"inventory.>", "inventory.a.b", true},
		{"inventory.>", "inventory", false},
		{"order.placed", "order.placed", true},
		{"order.placed", "order.placed.x", false},
		{"order.*", "order.placed", true},
		{"order.*", "order.placed.x", false},
		{"payment.failed", "payment.succeeded", false},
		{">", "catalog.product.updated", true},
		{"cart.>", "catalog.product.updated", false},
	} {
		if got := matches(c.pattern, c.subject); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}
