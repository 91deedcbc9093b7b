package composite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/payments"
)

// Checkout saga steps, as named in _meta and in a failed checkout's problem.
const (
	StepLookup  = "lookup_key"
	StepUser    = "user"
	StepCart    = "read_cart"
	StepPrice   = "price_lines"
	StepReserve = "reserve_stock"
	StepCharge  = "charge_payment"
	StepCommit  = "commit_stock"
	StepOrder   = "create_order"
	StepClear   = "clear_cart"

	CompRefund  = "refund_payment"
	CompRelease = "release_reservation"
)

// Checkout is a placed order. Replayed is true when an earlier checkout
// with the same Idempotency-Key placed it.
type Checkout struct {
	Order    orders.Order       `json:"order"`
	Replayed bool               `json:"-"`
	Meta     orchestration.Meta `json:"_meta"`
}

// checkouts coalesces concurrent checkouts with one key and remembers
// failed ones, so that a key replays its result. Successes are replayed from
// the orders service, which keeps them across restarts.
type checkouts struct {
	flights singleflight.Group
	failed  *gocache.Cache
}

func newCheckouts() *checkouts {
	return &checkouts{failed: gocache.New(24*time.Hour, time.Hour)}
}

// Checkout runs the checkout saga for a user's cart: read the cart, price
// its lines, reserve stock, charge the payment, create the order, clear the
// cart. When a step fails, the steps before it are compensated (refund,
// release) and the error is an *orchestration.SagaError naming the step.
//
// key is the client's Idempotency-Key ("" for none): the same key replays
// the same result and never charges twice, also when duplicates arrive
// concurrently (they share one run) and across restarts (the order and the
// charge are found by key).
func (c *Composer) Checkout(ctx context.Context, userID, key string) (Checkout, error) {
	if key == "" {
		return c.runCheckout(ctx, userID, newKey(), false)
	}
	id := key + "\x00" + userID
	if e, ok := c.checkouts.failed.Get(id); ok {
		return Checkout{}, e.(*orchestration.SagaError)
	}
	ch := c.checkouts.flights.DoChan(id, func() (any, error) {
		// Detached from the first caller's cancellation: a saga runs to its
		// end (or its compensations) even if that caller goes away.
		res, err := c.runCheckout(context.WithoutCancel(ctx), userID, key, true)
		var ce *orchestration.SagaError
		if errors.As(err, &ce) && len(ce.Compensated)+len(ce.Pending) > 0 {
			// It had effects, now undone: the key stays spent on this failure.
			c.checkouts.failed.SetDefault(id, ce)
		}
		return res, err
	})
	select {
	case r := <-ch:
		res, _ := r.Val.(Checkout)
		if r.Shared && r.Err == nil {
			res.Replayed = true
		}
		return res, r.Err
	case <-ctx.Done():
		return Checkout{}, ctx.Err()
	}
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "atrium-" + hex.EncodeToString(b)
}

// checkoutState is one checkout's state, step by step.
type checkoutState struct {
	userID, key string
	clientKey   bool // the key is the client's, so a prior order may exist

	cart     cart.Cart
	priced   *CartView
	lines    []inventory.Line
	res      inventory.Reservation
	charge   payments.Charge
	order    orders.Order
	replayed bool
}

// checkoutSaga: find the key's order (a replay ends here); read the user
// and the cart; price the lines; reserve the stock (undo: release); charge
// the payment (undo: refund); commit the reservation; create the order;
// clear the cart (optional). The reservation, the charge and the order are
// each made by the key, so a step sent twice finds what the first made.
func (c *Composer) checkoutSaga() *orchestration.Saga[checkoutState] {
	read := c.read(true, 0)
	optional := c.write()
	optional.Required = false // the order stands even if the cart stays full
	return orchestration.MustSaga(c.rt, "checkout",
		orchestration.SagaStep[checkoutState]{Name: StepLookup, Service: services.Orders, Policy: read, Read: true,
			When: func(s *checkoutState) bool { return s.clientKey }, Do: c.lookupKey},
		orchestration.SagaStep[checkoutState]{Name: StepUser, Service: services.Users, Policy: read, Read: true,
			Do: func(ctx context.Context, s *checkoutState) error {
				_, err := c.svc.Users.User(ctx, s.userID)
				return err
			}},
		orchestration.SagaStep[checkoutState]{Name: StepCart, Service: services.Cart, Policy: read, Read: true, Do: c.readCart},
		orchestration.SagaStep[checkoutState]{Name: StepPrice, Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL), Read: true,
			Do: c.priceLines},
		// A reservation whose answer was lost is not released: its hold
		// expires, and the key finds it again when the client retries.
		orchestration.SagaStep[checkoutState]{Name: StepReserve, Service: services.Inventory, Policy: c.write(), Do: c.reserve,
			Undo: &orchestration.Undo[checkoutState]{Name: CompRelease, Service: services.Inventory, Do: c.release}},
		// A charge whose answer was lost may have been made: it is found by
		// key and refunded too.
		orchestration.SagaStep[checkoutState]{Name: StepCharge, Service: services.Payments, Policy: c.write(), Do: c.charge,
			Undo: &orchestration.Undo[checkoutState]{Name: CompRefund, Service: services.Payments, Do: c.refund}, UndoUnsure: true},
		// Paid-for stock no longer expires. The commit comes before the
		// order, so that no placed order's stock can go back on sale;
		// releasing the reservation undoes the commit too.
		orchestration.SagaStep[checkoutState]{Name: StepCommit, Service: services.Inventory, Policy: c.write(),
			Do: func(ctx context.Context, s *checkoutState) error {
				_, err := c.svc.Inventory.Commit(ctx, s.res.ID)
				return err
			}},
		orchestration.SagaStep[checkoutState]{Name: StepOrder, Service: services.Orders, Policy: c.write(), Do: c.createOrder},
		orchestration.SagaStep[checkoutState]{Name: StepClear, Service: services.Cart, Policy: optional,
			Do: func(ctx context.Context, s *checkoutState) error {
				_, err := c.svc.Cart.Clear(ctx, s.userID)
				return err
			}},
	)
}

// lookupKey ends the saga with the key's order when one was placed.
func (c *Composer) lookupKey(ctx context.Context, s *checkoutState) error {
	prior, err := c.svc.Orders.ByKey(ctx, s.key)
	switch {
	case errors.Is(err, orders.ErrNotFound):
		return nil
	case err != nil:
		return err
	case prior.UserID != s.userID:
		return fmt.Errorf("key %q: %w", s.key, ErrKeyReused)
	}
	s.order, s.replayed = prior, true
	return orchestration.ErrSkipRest
}

func (c *Composer) readCart(ctx context.Context, s *checkoutState) (err error) {
	s.cart, err = c.svc.Cart.Cart(ctx, s.userID)
	if err == nil && len(s.cart.Items) == 0 {
		return fmt.Errorf("user %s: %w", s.userID, ErrEmptyCart)
	}
	return err
}

func (c *Composer) priceLines(ctx context.Context, s *checkoutState) error {
	products, err := c.svc.Catalog.Products(ctx, cartIDs(s.cart))
	if err != nil {
		return err
	}
	s.priced = priceCart(s.cart, products)
	if len(s.priced.Items) != len(s.cart.Items) {
		return ErrProductGone
	}
	s.lines = make([]inventory.Line, len(s.priced.Items))
	for i, l := range s.priced.Items {
		s.lines[i] = inventory.Line{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return nil
}

func (c *Composer) reserve(ctx context.Context, s *checkoutState) (err error) {
	s.res, err = c.svc.Inventory.Reserve(ctx, inventory.ReserveRequest{Lines: s.lines, UserID: s.userID, Key: s.key})
	if err == nil && (s.res.UserID != s.userID || !slices.Equal(s.res.Lines, s.lines)) {
		// The key reserved before, for another cart: not ours to release.
		return fmt.Errorf("reservation %s: %w", s.res.ID, ErrKeyReused)
	}
	return err
}

func (c *Composer) release(ctx context.Context, s *checkoutState) error {
	_, err := c.svc.Inventory.Release(ctx, s.res.ID)
	return err
}

func (c *Composer) charge(ctx context.Context, s *checkoutState) (err error) {
	req := payments.ChargeRequest{UserID: s.userID, AmountCents: s.priced.TotalCents, Currency: s.priced.Currency, Key: s.key}
	s.charge, err = c.svc.Payments.Charge(ctx, req)
	if err == nil && (s.charge.Status != payments.StatusSucceeded || s.charge.UserID != s.userID || s.charge.AmountCents != req.AmountCents) {
		// The key charged before, for a checkout that failed or differed.
		return fmt.Errorf("charge %s (%s, %d cents for %s): %w",
			s.charge.ID, s.charge.Status, s.charge.AmountCents, s.charge.UserID, ErrKeyReused)
	}
	return err
}

// refund refunds the key's charge, if one was made.
func (c *Composer) refund(ctx context.Context, s *checkoutState) error {
	ch, err := c.svc.Payments.ByKey(ctx, s.key)
	if errors.Is(err, payments.ErrNotFound) {
		return nil
	}
	if err == nil {
		_, err = c.svc.Payments.Refund(ctx, ch.ID)
	}
	return err
}

func (c *Composer) createOrder(ctx context.Context, s *checkoutState) error {
	no := orders.NewOrder{UserID: s.userID, Currency: s.priced.Currency, PaymentID: s.charge.ID, ReservationID: s.res.ID, Key: s.key}
	for _, l := range s.priced.Items {
		no.Lines = append(no.Lines, orders.Line{ProductID: l.ProductID, Quantity: l.Quantity, PriceCents: l.PriceCents})
	}
	order, err := c.svc.Orders.Create(ctx, no)
	if err != nil && !domain.Is(err) {
		// The order may have been written before the failure.
		if o, lerr := c.svc.Orders.ByKey(context.WithoutCancel(ctx), s.key); lerr == nil {
			order, err = o, nil
		}
	}
	if err != nil {
		return err
	}
	if order.ReservationID != s.res.ID {
		// Another gateway placed this key's order first, with its own
		// reservation: ours is a duplicate. The charge is the same (by key).
		_ = c.rt.Compensate(services.Inventory, func(ctx context.Context) error { return c.release(ctx, s) })
	}
	s.order = order
	return nil
}

func (c *Composer) runCheckout(ctx context.Context, userID, key string, clientKey bool) (Checkout, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*c.cfg.Deadline)
	defer cancel()
	s := checkoutState{userID: userID, key: key, clientKey: clientKey}
	meta, err := c.checkout.Run(ctx, &s)
	if err != nil {
		return Checkout{}, err
	}
	return Checkout{Order: s.order, Replayed: s.replayed, Meta: meta}, nil
}
