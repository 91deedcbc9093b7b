package composite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/users"
)

// CartLine is a cart item at the product's current price.
type CartLine struct {
	ProductID      string `json:"product_id"`
	Name           string `json:"name"`
	PriceCents     int64  `json:"price_cents"`
	Currency       string `json:"currency"`
	Quantity       int    `json:"quantity"`
	LineTotalCents int64  `json:"line_total_cents"`
}

// CartView is a user's cart priced from the catalog.
type CartView struct {
	UserID     string     `json:"user_id"`
	Items      []CartLine `json:"items"`
	TotalCents int64      `json:"total_cents"`
	Currency   string     `json:"currency"`
}

// Currency is the store's currency.
const Currency = "EUR"

// priceCart prices a cart; items whose product the catalog no longer has
// are left out.
func priceCart(ct cart.Cart, products []catalog.Product) *CartView {
	byID := make(map[string]catalog.Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	v := &CartView{UserID: ct.UserID, Items: []CartLine{}, Currency: Currency}
	for _, it := range ct.Items {
		p, ok := byID[it.ProductID]
		if !ok {
			continue
		}
		line := CartLine{ProductID: p.ID, Name: p.Name, PriceCents: p.PriceCents, Currency: p.Currency,
			Quantity: it.Quantity, LineTotalCents: p.PriceCents * int64(it.Quantity)}
		v.Items = append(v.Items, line)
		v.TotalCents += line.LineTotalCents
	}
	return v
}

func cartIDs(ct cart.Cart) []string {
	ids := make([]string, len(ct.Items))
	for i, it := range ct.Items {
		ids[i] = it.ProductID
	}
	return ids
}

// Errors of the cart and checkout composites.
var (
	ErrExceedsStock  = domain.New(domain.Conflict, "quantity exceeds stock")
	ErrEmptyCart     = domain.New(domain.Conflict, "cart is empty")
	ErrProductGone   = domain.New(domain.Conflict, "a product in the cart is no longer sold")
	ErrKeyReused     = domain.New(domain.Conflict, "Idempotency-Key already used for another checkout")
	ErrNoSuchProduct = domain.New(domain.NotFound, "product not found")
)

type cartState struct {
	userID   string
	user     users.User
	cart     cart.Cart
	products []catalog.Product
}

func cartUser(s *cartState) string { return s.userID }

// cartPlan: the user (required: an unknown user is a 404), the cart, and
// the cart's products priced in one batched call.
func (c *Composer) cartPlan() *orchestration.Plan[cartState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[cartState, users.User]{Name: "user", Service: services.Users, Policy: c.read(true, c.cfg.CacheTTL), Key: cartUser,
			Get: func(ctx context.Context, s *cartState) (users.User, error) { return c.svc.Users.User(ctx, s.userID) },
			Set: func(s *cartState, v users.User) { s.user = v }},
		orchestration.Fetch[cartState, cart.Cart]{Name: "cart", Service: services.Cart, Policy: c.read(true, 0),
			Get: func(ctx context.Context, s *cartState) (cart.Cart, error) { return c.svc.Cart.Cart(ctx, s.userID) },
			Set: func(s *cartState, v cart.Cart) { s.cart = v }},
		orchestration.Fetch[cartState, []catalog.Product]{Name: "cart_products", Service: services.Catalog, After: []string{"cart"},
			Policy: c.read(true, c.cfg.CacheTTL), Key: func(s *cartState) string { return strings.Join(cartIDs(s.cart), ",") }, Tags: productTags,
			Get: func(ctx context.Context, s *cartState) ([]catalog.Product, error) {
				return c.svc.Catalog.Products(ctx, cartIDs(s.cart))
			},
			Set: func(s *cartState, v []catalog.Product) { s.products = v }},
	)
}

// CartResult is a priced cart with the sources it came from.
type CartResult struct {
	*CartView
	Meta orchestration.Meta `json:"_meta"`
}

// Cart composes a user's priced cart.
func (c *Composer) Cart(ctx context.Context, userID string) (CartResult, error) {
	s := cartState{userID: userID}
	meta, err := compose(ctx, c, "cart", c.cartView, &s)
	if err != nil {
		return CartResult{Meta: meta}, err
	}
	return CartResult{CartView: priceCart(s.cart, s.products), Meta: meta}, nil
}

// CartEdit changes one cart item. Add adds Quantity to what the cart holds;
// otherwise Quantity replaces it, and the item must be in the cart.
type CartEdit struct {
	UserID    string
	ProductID string
	Quantity  int
	Add       bool
}

type editState struct {
	CartEdit
	user    users.User
	product catalog.Product
	stock   inventory.Stock
	cart    cart.Cart
}

// editCartPlan reads the user, the product and the cart in parallel, the
// product's stock once the product is known, then makes the edit.
func (c *Composer) editCartPlan() *orchestration.Plan[editState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[editState, users.User]{Name: "user", Service: services.Users, Policy: c.read(true, c.cfg.CacheTTL),
			Get: func(ctx context.Context, s *editState) (users.User, error) { return c.svc.Users.User(ctx, s.UserID) },
			Set: func(s *editState, v users.User) { s.user = v }},
		orchestration.Fetch[editState, catalog.Product]{Name: "product", Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL),
			Get: func(ctx context.Context, s *editState) (catalog.Product, error) {
				p, err := c.svc.Catalog.Product(ctx, s.ProductID)
				if err != nil && domain.KindOf(err) == domain.NotFound {
					return p, fmt.Errorf("product %s: %w", s.ProductID, ErrNoSuchProduct)
				}
				return p, err
			},
			Set: func(s *editState, v catalog.Product) { s.product = v }},
		// After the product: an unknown product is a 404 about the product.
		orchestration.Fetch[editState, inventory.Stock]{Name: "stock", Service: services.Inventory, After: []string{"product"}, Policy: c.read(true, 0),
			Get: func(ctx context.Context, s *editState) (inventory.Stock, error) {
				return c.svc.Inventory.Stock(ctx, s.ProductID)
			},
			Set: func(s *editState, v inventory.Stock) { s.stock = v }},
		orchestration.Fetch[editState, cart.Cart]{Name: "cart", Service: services.Cart, Policy: c.read(true, 0),
			Get: func(ctx context.Context, s *editState) (cart.Cart, error) { return c.svc.Cart.Cart(ctx, s.UserID) },
			Set: func(s *editState, v cart.Cart) { s.cart = v }},
		orchestration.Do[editState]{Name: "set_item", Service: services.Cart, After: []string{"user", "product", "stock", "cart"}, Policy: c.write(),
			Run: func(ctx context.Context, s *editState) error {
				i := slices.IndexFunc(s.cart.Items, func(it cart.Item) bool { return it.ProductID == s.ProductID })
				q := s.Quantity
				switch {
				case s.Add && i >= 0:
					q += s.cart.Items[i].Quantity
				case !s.Add && i < 0:
					return fmt.Errorf("%s is not in the cart: %w", s.ProductID, cart.ErrNotFound)
				}
				if q > s.stock.Available {
					inCart := 0
					if i >= 0 {
						inCart = s.cart.Items[i].Quantity
					}
					return fmt.Errorf("%d of %q (%s) in stock, and the cart would hold %d (it holds %d): %w",
						s.stock.Available, s.product.Name, s.ProductID, q, inCart, ErrExceedsStock)
				}
				_, err := c.svc.Cart.SetItem(ctx, s.UserID, cart.Item{ProductID: s.ProductID, Quantity: q})
				return err
			}},
	)
}

// EditCart checks an edit against the user, the catalog (unknown product:
// 404) and the stock (more than available: 409), all read in parallel, makes
// it, and returns the priced cart.
func (c *Composer) EditCart(ctx context.Context, e CartEdit) (CartResult, error) {
	if _, err := compose(ctx, c, "edit_cart", c.editCart, &editState{CartEdit: e}); err != nil {
		return CartResult{}, err
	}
	return c.Cart(ctx, e.UserID)
}

// RemoveFromCart removes a product from a user's cart (404 when it is not
// there) and returns the priced cart.
func (c *Composer) RemoveFromCart(ctx context.Context, userID, productID string) (CartResult, error) {
	return c.changeCart(ctx, userID, func(ctx context.Context) error {
		_, err := c.svc.Cart.RemoveItem(ctx, userID, productID)
		return err
	})
}

// ClearCart empties a user's cart and returns it.
func (c *Composer) ClearCart(ctx context.Context, userID string) (CartResult, error) {
	return c.changeCart(ctx, userID, func(ctx context.Context) error {
		_, err := c.svc.Cart.Clear(ctx, userID)
		return err
	})
}

type changeState struct {
	userID string
	user   users.User
	change func(context.Context) error
}

// cartChangePlan checks the user, then makes one cart change.
func (c *Composer) cartChangePlan() *orchestration.Plan[changeState] {
	return orchestration.MustPlan(c.rt,
		orchestration.Fetch[changeState, users.User]{Name: "user", Service: services.Users, Policy: c.read(true, c.cfg.CacheTTL),
			Key: func(s *changeState) string { return s.userID },
			Get: func(ctx context.Context, s *changeState) (users.User, error) { return c.svc.Users.User(ctx, s.userID) },
			Set: func(s *changeState, v users.User) { s.user = v }},
		orchestration.Do[changeState]{Name: "change_cart", Service: services.Cart, After: []string{"user"}, Policy: c.write(),
			Run: func(ctx context.Context, s *changeState) error { return s.change(ctx) }},
	)
}

// changeCart checks the user, makes one cart change and returns the cart.
func (c *Composer) changeCart(ctx context.Context, userID string, change func(context.Context) error) (CartResult, error) {
	if _, err := compose(ctx, c, "change_cart", c.cartChange, &changeState{userID: userID, change: change}); err != nil {
		return CartResult{}, err
	}
	return c.Cart(ctx, userID)
}
