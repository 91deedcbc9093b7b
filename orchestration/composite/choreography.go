package composite

import (
	"context"
	"sync"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/orders"
)

// The choreographed checkout (package orders tells its events): the
// gateway only places a pending order of the priced cart; the services
// carry it out by their subscriptions, and the client follows the order
// (Order, and Watch for a stream of its steps).

// ReservedKeyPrefix begins the keys the choreography gives the services
// (order:<id>): a client's Idempotency-Key may not, so that no checkout of
// one user can take over the reservation or the charge of another's
// choreographed order.
const ReservedKeyPrefix = "order:"

// StepPlace is the step of the choreographed checkout that places the
// order.
const StepPlace = "place_order"

// placePlan: the key's order, if one was placed (a replay), beside the
// user; then the cart, its prices, and the pending order: the saga's own
// steps, each after the lookup doing nothing for a replay.
func (c *Composer) placePlan() *orchestration.Plan[checkoutState] {
	read := c.read(true, 0)
	unlessReplayed := func(step func(context.Context, *checkoutState) error) func(context.Context, *checkoutState) error {
		return func(ctx context.Context, s *checkoutState) error {
			if s.Replayed {
				return nil
			}
			return step(ctx, s)
		}
	}
	return orchestration.MustPlan(c.rt,
		orchestration.Do[checkoutState]{Name: StepLookup, Service: services.Orders, Policy: read,
			Run: func(ctx context.Context, s *checkoutState) (err error) {
				if s.ClientKey {
					s.Order, s.Replayed, err = c.priorOrder(ctx, s.UserID, s.Key)
				}
				return err
			}},
		orchestration.Do[checkoutState]{Name: StepUser, Service: services.Users, Policy: read, Run: c.checkUser},
		orchestration.Do[checkoutState]{Name: StepCart, Service: services.Cart, Policy: read, After: []string{StepLookup},
			Run: unlessReplayed(c.readCart)},
		orchestration.Do[checkoutState]{Name: StepPrice, Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL), After: []string{StepCart},
			Run: unlessReplayed(c.priceLines)},
		orchestration.Do[checkoutState]{Name: StepPlace, Service: services.Orders, Policy: c.write(), After: []string{StepPrice, StepUser},
			Run: unlessReplayed(func(ctx context.Context, s *checkoutState) (err error) {
				no := newOrder(s)
				no.Choreographed = true
				s.Order, err = c.svc.Orders.Create(ctx, no)
				return err
			})},
	)
}

// PlaceOrder places a pending order of userID's cart for the services to
// carry out by events, under key (the client's Idempotency-Key; a new one
// when ""): the same key places one order, given again to every later
// request with it (Replayed).
func (c *Composer) PlaceOrder(ctx context.Context, userID, key string) (Checkout, error) {
	s := checkoutState{UserID: userID, Key: key, ClientKey: key != ""}
	if !s.ClientKey {
		s.Key = newKey()
	}
	meta, err := compose(ctx, c, "place_order", c.place, &s)
	if err != nil {
		return Checkout{Meta: meta}, err
	}
	return Checkout{Order: s.Order, Replayed: s.Replayed, Meta: meta}, nil
}

// OrderView is one order as its client follows it.
type OrderView struct {
	orders.Order
	// Final is true once the order's status will change no more.
	Final bool               `json:"final"`
	Meta  orchestration.Meta `json:"_meta"`
}

// Metadata implements Result.
func (o OrderView) Metadata() orchestration.Meta { return o.Meta }

type orderState struct {
	id    string
	order orders.Order
}

func (c *Composer) orderPlan() *orchestration.Plan[orderState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[orderState, orders.Order]{Name: "order", Service: services.Orders, Policy: c.read(true, 0),
			Key: func(s *orderState) string { return s.id },
			Get: func(ctx context.Context, s *orderState) (orders.Order, error) { return c.svc.Orders.Order(ctx, s.id) },
			Set: func(s *orderState, v orders.Order) { s.order = v }})
}

// Order reads one order with its steps.
func (c *Composer) Order(ctx context.Context, id string) (OrderView, error) {
	s := orderState{id: id}
	meta, err := compose(ctx, c, "order", c.order, &s)
	if err != nil {
		return OrderView{Meta: meta}, err
	}
	return OrderView{Order: s.order, Final: orders.Final(s.order.Status), Meta: meta}, nil
}

// progressSubjects are the events of an order's progress: the orders
// service's, once it has taken a step into the order.
var progressSubjects = []string{orders.SubjectProgressed}

// watchers wakes whoever follows an order when an event of it comes.
type watchers struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]struct{}
}

// Watch returns a channel that receives (without blocking the sender: a
// wake-up pending is enough) whenever an event of order id reaches this
// gateway, and what stops the watch.
func (c *Composer) Watch(id string) (<-chan struct{}, func()) {
	w := &c.watchers
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = map[string]map[chan struct{}]struct{}{}
	}
	if w.m[id] == nil {
		w.m[id] = map[chan struct{}]struct{}{}
	}
	w.m[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.m[id], ch)
		if len(w.m[id]) == 0 {
			delete(w.m, id)
		}
	}
}

// orderEvent wakes the watchers of the order an event tells of.
func (c *Composer) orderEvent(e event.Event) error {
	p, err := event.Decode[struct {
		OrderID string `json:"order_id"`
	}](e)
	if err != nil {
		return err
	}
	w := &c.watchers
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[p.OrderID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return nil
}
