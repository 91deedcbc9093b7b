package orchestration

import (
	"time"

	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/recommendations"
	"github.com/atrium-bff/atrium/services/reviews"
	"github.com/atrium-bff/atrium/services/users"
)

// Services are the downstream services the composites call: in-process
// implementations in a monolith, HTTP clients in microservices mode.
type Services struct {
	Catalog         catalog.Service
	Inventory       inventory.Service
	Reviews         reviews.Service
	Users           users.Service
	Cart            cart.Service
	Orders          orders.Service
	Payments        payments.Service
	Recommendations recommendations.Service
}

// Config tunes the composites. Zero fields take the defaults in brackets.
type Config struct {
	// Deadline bounds a whole composite [2s].
	Deadline time.Duration
	// CallTimeout bounds each downstream call [1s]; keep it below Deadline
	// so that a composite can answer partially before its own deadline.
	CallTimeout time.Duration
}

// Composer serves the composite endpoints over Services.
type Composer struct {
	svc Services
	cfg Config
}

// New returns a Composer over svc.
func New(svc Services, cfg Config) *Composer {
	if cfg.Deadline == 0 {
		cfg.Deadline = 2 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = time.Second
	}
	return &Composer{svc: svc, cfg: cfg}
}
