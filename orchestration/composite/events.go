package composite

import (
	"context"
	"time"

	"github.com/atrium-bff/atrium/internal/event"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/catalog"
)

// ProductChanged drops every cached read that carries product id (its
// page, the listings, carts and dashboards it is in), so that the next
// answer has its new price: what a catalog.product.updated event tells.
//
// It drops them again a moment later (restale): the catalog replicas take
// the same event on their own, and a read between this drop and a
// replica's refresh would cache the old price again, for the cache's
// whole TTL.
func (c *Composer) ProductChanged(id string) {
	c.rt.Invalidate(productTag(id))
	time.AfterFunc(restale, func() { c.rt.Invalidate(productTag(id)) })
}

// restale is how long after a product's change its cached reads are
// dropped a second time: far longer than a catalog replica takes to read
// the new price once told.
const restale = time.Second

// Follows is what a gateway follows on the broker: the events that make
// its cached answers stale, and those that move an order on (OnEvent).
func (c *Composer) Follows() []string {
	return append([]string{catalog.SubjectProductUpdated}, progressSubjects...)
}

// OnEvent takes an event of Follows: a product's change drops what is
// cached of it; an order's step wakes who watches the order.
func (c *Composer) OnEvent(_ context.Context, e event.Event) error {
	if e.Subject != catalog.SubjectProductUpdated {
		return c.orderEvent(e)
	}
	u, err := event.Decode[catalog.ProductEvent](e)
	if err != nil {
		return err
	}
	c.ProductChanged(u.ID)
	return nil
}

type priceState struct {
	id      string
	cents   int64
	product catalog.Product
}

func (c *Composer) setPricePlan() *orchestration.Plan[priceState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Do[priceState]{Name: "set_price", Service: services.Catalog, Policy: c.write(),
			Run: func(ctx context.Context, s *priceState) (err error) {
				s.product, err = c.svc.Catalog.SetPrice(ctx, s.id, s.cents)
				return err
			}})
}

// SetPrice changes a product's price (an admin's act). The catalog's event
// tells every gateway; this one drops its cached reads at once, so that
// its next answer has the new price.
func (c *Composer) SetPrice(ctx context.Context, id string, cents int64) (catalog.Product, error) {
	s := priceState{id: id, cents: cents}
	if _, err := compose(ctx, c, "set_price", c.setPrice, &s); err != nil {
		return catalog.Product{}, err
	}
	c.ProductChanged(id)
	return s.product, nil
}

func productTag(id string) string { return "product:" + id }

// productTags tags a cached read by the products it carries.
func productTags(ps []catalog.Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = productTag(p.ID)
	}
	return out
}
