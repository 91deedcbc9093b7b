package composite

import (
	"context"
	"strings"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"

	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/users"
)

// OrderLine is an order line with the product's name; Name is empty when
// the catalog source failed.
type OrderLine struct {
	ProductID  string `json:"product_id"`
	Name       string `json:"name,omitempty"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// OrderSummary is an order as a dashboard lists it.
type OrderSummary struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	CreatedAt  time.Time   `json:"created_at"`
	Lines      []OrderLine `json:"lines"`
}

// Dashboard is a user's home page: the profile, recent orders with product
// names, and the priced cart. Orders and cart are null when their sources
// failed.
type Dashboard struct {
	User         users.User         `json:"user"`
	RecentOrders []OrderSummary     `json:"recent_orders"`
	Cart         *CartView          `json:"cart"`
	Meta         orchestration.Meta `json:"_meta"`

	fields Fields
}

// DashboardOrders is how many recent orders a dashboard shows.
const DashboardOrders = 5

type dashboardState struct {
	userID        string
	d             Dashboard
	orders        []orders.Order
	orderProducts []catalog.Product
	cart          cart.Cart
	cartProducts  []catalog.Product
}

func (s *dashboardState) orderIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, o := range s.orders {
		for _, l := range o.Lines {
			if !seen[l.ProductID] {
				seen[l.ProductID] = true
				ids = append(ids, l.ProductID)
			}
		}
	}
	return ids
}

// dashboardPlan: the user (required), their orders and their cart in
// parallel; then the products of the orders and of the cart, one batched
// call each.
func (c *Composer) dashboardPlan() *orchestration.Plan[dashboardState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[dashboardState, users.User]{Name: "user", Service: services.Users, Policy: c.read(true, c.cfg.CacheTTL),
			Key: func(s *dashboardState) string { return s.userID },
			Get: func(ctx context.Context, s *dashboardState) (users.User, error) {
				return c.svc.Users.User(ctx, s.userID)
			},
			Set: func(s *dashboardState, v users.User) { s.d.User = v }},
		orchestration.Fetch[dashboardState, []orders.Order]{Name: "orders", Service: services.Orders, Policy: c.read(false, 0),
			Get: func(ctx context.Context, s *dashboardState) ([]orders.Order, error) {
				return c.svc.Orders.ByUser(ctx, s.userID, DashboardOrders)
			},
			Set: func(s *dashboardState, v []orders.Order) { s.orders = v }},
		orchestration.Fetch[dashboardState, cart.Cart]{Name: "cart", Service: services.Cart, Policy: c.read(false, 0),
			Get: func(ctx context.Context, s *dashboardState) (cart.Cart, error) { return c.svc.Cart.Cart(ctx, s.userID) },
			Set: func(s *dashboardState, v cart.Cart) { s.cart = v }},
		orchestration.Fetch[dashboardState, []catalog.Product]{Name: "order_products", Service: services.Catalog, After: []string{"orders"},
			Policy: c.read(false, c.cfg.CacheTTL), Key: func(s *dashboardState) string { return strings.Join(s.orderIDs(), ",") }, Tags: productTags,
			Get: func(ctx context.Context, s *dashboardState) ([]catalog.Product, error) {
				return c.svc.Catalog.Products(ctx, s.orderIDs())
			},
			Set: func(s *dashboardState, v []catalog.Product) { s.orderProducts = v }},
		orchestration.Fetch[dashboardState, []catalog.Product]{Name: "cart_products", Service: services.Catalog, After: []string{"cart"},
			Policy: c.read(false, c.cfg.CacheTTL), Key: func(s *dashboardState) string { return strings.Join(cartIDs(s.cart), ",") }, Tags: productTags,
			Get: func(ctx context.Context, s *dashboardState) ([]catalog.Product, error) {
				return c.svc.Catalog.Products(ctx, cartIDs(s.cart))
			},
			Set: func(s *dashboardState, v []catalog.Product) { s.cartProducts = v }},
	)
}

// Dashboard composes a user's dashboard: the parts f selects (all when
// zero).
func (c *Composer) Dashboard(ctx context.Context, userID string, f Fields) (Dashboard, error) {
	s := dashboardState{userID: userID}
	s.d.fields = f
	meta, err := compose(ctx, c, "dashboard", c.dashboard[f], &s)
	if err != nil {
		return Dashboard{Meta: meta}, err
	}
	d := s.d
	d.Meta = meta
	if meta.Sources["orders"].Status == orchestration.StatusOK {
		names := map[string]string{}
		for _, p := range s.orderProducts {
			names[p.ID] = p.Name
		}
		d.RecentOrders = make([]OrderSummary, len(s.orders))
		for i, o := range s.orders {
			lines := make([]OrderLine, len(o.Lines))
			for j, l := range o.Lines {
				lines[j] = OrderLine{ProductID: l.ProductID, Name: names[l.ProductID], Quantity: l.Quantity, PriceCents: l.PriceCents}
			}
			d.RecentOrders[i] = OrderSummary{ID: o.ID, Status: o.Status, TotalCents: o.TotalCents,
				Currency: o.Currency, CreatedAt: o.CreatedAt, Lines: lines}
		}
	}
	if st := meta.Sources["cart_products"].Status; st == orchestration.StatusOK || st == orchestration.StatusCached {
		d.Cart = priceCart(s.cart, s.cartProducts)
	}
	return d, nil
}
