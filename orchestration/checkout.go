package orchestration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
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
	Order    orders.Order `json:"order"`
	Replayed bool         `json:"-"`
	Meta     Meta         `json:"_meta"`
}

// CheckoutError is a failed checkout: the step that failed, the
// compensations that undid the steps before it, those that could not be
// made (Pending), and the cause.
type CheckoutError struct {
	Step        string
	Compensated []string
	Pending     []string
	Err         error
	Meta        Meta
}

func (e *CheckoutError) Error() string {
	msg := fmt.Sprintf("checkout failed at %s: %v", e.Step, e.Err)
	if len(e.Compensated) > 0 {
		msg += "; undone: " + strings.Join(e.Compensated, ", ")
	}
	if len(e.Pending) > 0 {
		msg += "; could not undo: " + strings.Join(e.Pending, ", ")
	}
	return msg
}

func (e *CheckoutError) Unwrap() error { return e.Err }

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
// release) and the error is a *CheckoutError naming the step.
//
// key is the client's Idempotency-Key ("" for none): the same key replays
// the same result and never charges twice, also when duplicates arrive
// concurrently (they share one run) and across restarts (the order and the
// charge are found by key).
func (c *Composer) Checkout(ctx context.Context, userID, key string) (Checkout, error) {
	if key == "" {
		return c.checkout(ctx, userID, newKey(), false)
	}
	id := key + "\x00" + userID
	if e, ok := c.checkouts.failed.Get(id); ok {
		return Checkout{}, e.(*CheckoutError)
	}
	ch := c.checkouts.flights.DoChan(id, func() (any, error) {
		// Detached from the first caller's cancellation: a saga runs to its
		// end (or its compensations) even if that caller goes away.
		res, err := c.checkout(context.WithoutCancel(ctx), userID, key, true)
		var ce *CheckoutError
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

// saga records a checkout's steps.
type saga struct {
	c       *Composer
	meta    Meta
	undo    []compensation
	started time.Time
}

type compensation struct {
	name    string
	service string
	do      func(context.Context) error
}

// step runs one step against service and records it in the meta.
func (sg *saga) step(ctx context.Context, name, service string, p Policy, read bool, fn func(context.Context) error) error {
	p.Hedge = false // fn stores into the saga's variables: one request at a time
	src, err := sg.c.rt.observe(ctx, name, service, true, func(ctx context.Context) (Source, error) {
		_, src, err := sg.c.rt.execute(ctx, service, name, p, read, func(ctx context.Context) (any, error) { return nil, fn(ctx) })
		return src, err
	})
	sg.meta.Sources[name] = src
	return err
}

// fail compensates the steps done so far, newest first, and returns the
// failure. A compensation is idempotent, so it is retried until it
// succeeds or its own 10s budget runs out; one that cannot be made is
// reported as pending.
func (sg *saga) fail(ctx context.Context, step string, err error) *CheckoutError {
	ce := &CheckoutError{Step: step, Err: err, Meta: sg.meta}
	for i := len(sg.undo) - 1; i >= 0; i-- {
		u := sg.undo[i]
		_, span := sg.c.rt.span(ctx, "compensate", u.name)
		cerr := sg.c.rt.compensate(u.service, u.do)
		span.End()
		if cerr != nil {
			ce.Pending = append(ce.Pending, u.name)
		} else {
			ce.Compensated = append(ce.Compensated, u.name)
		}
	}
	ce.Meta.Partial = true
	return ce
}

func (c *Composer) checkout(ctx context.Context, userID, key string, clientKey bool) (Checkout, error) {
	ctx, span := c.rt.composite(ctx, "checkout")
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, 2*c.cfg.Deadline)
	defer cancel()
	sg := &saga{c: c, meta: Meta{Sources: map[string]Source{}}, started: time.Now()}
	read := c.read(true, 0)

	if clientKey {
		var prior orders.Order
		err := sg.step(ctx, StepLookup, "orders", read, true, func(ctx context.Context) (err error) {
			prior, err = c.svc.Orders.ByKey(ctx, key)
			return err
		})
		switch {
		case err == nil && prior.UserID != userID:
			return Checkout{}, sg.fail(ctx, StepLookup, fmt.Errorf("key %q: %w", key, ErrKeyReused))
		case err == nil:
			return Checkout{Order: prior, Replayed: true, Meta: sg.meta}, nil
		case !errors.Is(err, orders.ErrNotFound):
			return Checkout{}, sg.fail(ctx, StepLookup, err)
		}
	}

	// Read the user and the cart, then price the lines.
	var (
		ct       cart.Cart
		products []catalog.Product
	)
	if err := sg.step(ctx, StepUser, "users", read, true, func(ctx context.Context) error {
		_, err := c.svc.Users.User(ctx, userID)
		return err
	}); err != nil {
		return Checkout{}, sg.fail(ctx, StepUser, err)
	}
	if err := sg.step(ctx, StepCart, "cart", read, true, func(ctx context.Context) (err error) {
		ct, err = c.svc.Cart.Cart(ctx, userID)
		return err
	}); err != nil {
		return Checkout{}, sg.fail(ctx, StepCart, err)
	}
	if len(ct.Items) == 0 {
		return Checkout{}, sg.fail(ctx, StepCart, fmt.Errorf("user %s: %w", userID, ErrEmptyCart))
	}
	if err := sg.step(ctx, StepPrice, "catalog", c.read(true, c.cfg.CacheTTL), true, func(ctx context.Context) (err error) {
		products, err = c.svc.Catalog.Products(ctx, cartIDs(ct))
		return err
	}); err != nil {
		return Checkout{}, sg.fail(ctx, StepPrice, err)
	}
	priced := priceCart(ct, products)
	if len(priced.Items) != len(ct.Items) {
		return Checkout{}, sg.fail(ctx, StepPrice, ErrProductGone)
	}

	// Reserve the stock.
	lines := make([]inventory.Line, len(priced.Items))
	for i, l := range priced.Items {
		lines[i] = inventory.Line{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	var res inventory.Reservation
	// A reservation whose answer was lost is not released here: its hold
	// expires. The key finds it again when the client retries.
	if err := sg.step(ctx, StepReserve, "inventory", c.write(), false, func(ctx context.Context) (err error) {
		res, err = c.svc.Inventory.Reserve(ctx, inventory.ReserveRequest{Lines: lines, UserID: userID, Key: key})
		return err
	}); err != nil {
		return Checkout{}, sg.fail(ctx, StepReserve, err)
	}
	if res.UserID != userID || !slices.Equal(res.Lines, lines) {
		// The key reserved before, for another cart: not ours to release.
		return Checkout{}, sg.fail(ctx, StepReserve, fmt.Errorf("reservation %s: %w", res.ID, ErrKeyReused))
	}
	sg.undo = append(sg.undo, compensation{CompRelease, "inventory", func(ctx context.Context) error {
		_, err := c.svc.Inventory.Release(ctx, res.ID)
		return err
	}})

	// Charge the payment, idempotently by key.
	var charge payments.Charge
	chargeReq := payments.ChargeRequest{UserID: userID, AmountCents: priced.TotalCents, Currency: priced.Currency, Key: key}
	err := sg.step(ctx, StepCharge, "payments", c.write(), false, func(ctx context.Context) (err error) {
		charge, err = c.svc.Payments.Charge(ctx, chargeReq)
		return err
	})
	if err != nil && !domain.Is(err) {
		// The charge may have been made before the failure: find it by key,
		// so that it is refunded below rather than left behind.
		sg.undo = append(sg.undo, compensation{CompRefund, "payments", func(ctx context.Context) error {
			ch, err := c.svc.Payments.ByKey(ctx, key)
			if errors.Is(err, payments.ErrNotFound) {
				return nil
			}
			if err == nil {
				_, err = c.svc.Payments.Refund(ctx, ch.ID)
			}
			return err
		}})
	}
	if err != nil {
		return Checkout{}, sg.fail(ctx, StepCharge, err)
	}
	if charge.Status != payments.StatusSucceeded || charge.UserID != userID || charge.AmountCents != chargeReq.AmountCents {
		// The key charged before, for a checkout that failed or differed.
		return Checkout{}, sg.fail(ctx, StepCharge, fmt.Errorf("charge %s (%s, %d cents for %s): %w",
			charge.ID, charge.Status, charge.AmountCents, charge.UserID, ErrKeyReused))
	}
	sg.undo = append(sg.undo, compensation{CompRefund, "payments", func(ctx context.Context) error {
		_, err := c.svc.Payments.Refund(ctx, charge.ID)
		return err
	}})

	// Commit the reservation: paid-for stock no longer expires. It is done
	// before the order so that no placed order's stock can go back on sale;
	// releasing the reservation undoes the commit too.
	if err := sg.step(ctx, StepCommit, "inventory", c.write(), false, func(ctx context.Context) error {
		_, err := c.svc.Inventory.Commit(ctx, res.ID)
		return err
	}); err != nil {
		return Checkout{}, sg.fail(ctx, StepCommit, err)
	}

	// Create the order, idempotently by key.
	newOrder := orders.NewOrder{UserID: userID, Currency: priced.Currency, PaymentID: charge.ID, ReservationID: res.ID, Key: key}
	for _, l := range priced.Items {
		newOrder.Lines = append(newOrder.Lines, orders.Line{ProductID: l.ProductID, Quantity: l.Quantity, PriceCents: l.PriceCents})
	}
	var order orders.Order
	err = sg.step(ctx, StepOrder, "orders", c.write(), false, func(ctx context.Context) (err error) {
		order, err = c.svc.Orders.Create(ctx, newOrder)
		return err
	})
	if err != nil && !domain.Is(err) {
		// The order may have been written before the failure.
		if o, lerr := c.svc.Orders.ByKey(context.WithoutCancel(ctx), key); lerr == nil {
			order, err = o, nil
		}
	}
	if err != nil {
		return Checkout{}, sg.fail(ctx, StepOrder, err)
	}
	if order.ReservationID != res.ID {
		// Another gateway placed this key's order first, with its own
		// reservation: ours is a duplicate. The charge is the same (by key).
		_ = c.rt.compensate("inventory", sg.undo[0].do)
	}

	// Clear the cart. The order stands even if this fails.
	_ = sg.step(ctx, StepClear, "cart", c.write(), false, func(ctx context.Context) error {
		_, err := c.svc.Cart.Clear(ctx, userID)
		return err
	})
	if sg.meta.Sources[StepClear].Status != StatusOK {
		sg.meta.Partial = true
	}
	return Checkout{Order: order, Meta: sg.meta}, nil
}
