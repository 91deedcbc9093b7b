package composite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/sagalog"
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

// Answer is a checkout's final answer as its client was given it: a status
// and a body that Config.Answer rendered once. It is stored with the key in
// the saga log and given again, byte for byte, to every later request with
// that key, on every gateway. Replayed marks an answer given again. An
// answer given the first time also carries the run's result, as Checkout
// (nil when it failed) and Err (an *orchestration.SagaError), and its Meta.
type Answer struct {
	Status   int
	Body     []byte
	Replayed bool
	Meta     *orchestration.Meta
	Checkout *Checkout
	Err      error
}

// CheckoutLog is the durable log of checkout runs: sagalog.Log (shared
// by every gateway on one data directory, or one PostgreSQL database) or
// sagalog.Memory (this process only).
type CheckoutLog interface {
	// Claim returns run id owned by owner (new, or taken over from an owner
	// whose lease expired) and true, or the run as it is and false.
	Claim(ctx context.Context, id, owner string, lease time.Duration, state []byte) (sagalog.Entry, bool, error)
	// Save, Renew, Release and Finish fail with orchestration.ErrSagaTaken
	// when owner holds the run no more.
	Save(ctx context.Context, id, owner string, lease time.Duration, state []byte, run *orchestration.SagaRun) error
	Renew(ctx context.Context, id, owner string, lease time.Duration) error
	Release(ctx context.Context, id, owner string) error
	Finish(ctx context.Context, id, owner string, state []byte, run *orchestration.SagaRun, status int, answer []byte) error
	// Forget drops an unfinished run that owner holds.
	Forget(ctx context.Context, id, owner string) error
	Get(ctx context.Context, id string) (sagalog.Entry, error)
	// Stale lists unfinished runs whose lease expired; Unfinished counts
	// unfinished runs.
	Stale(ctx context.Context, n int) ([]string, error)
	Unfinished(ctx context.Context) (int, error)
}

// ErrInProgress reports a checkout whose key another gateway is running
// still, past the caller's patience.
var ErrInProgress = domain.New(domain.Conflict, "a checkout with this Idempotency-Key is in progress")

// Checkout runs the checkout saga for a user's cart: read the cart, price
// its lines, reserve stock, charge the payment, commit the reservation,
// create the order, clear the cart. When a step fails, the steps before it
// are compensated (refund, release) and the answer is the problem of an
// *orchestration.SagaError naming the step.
//
// Every run is kept in the saga log, step by step, under the user and key
// (the client's Idempotency-Key, or a new one when key is ""), so that a
// run whose gateway died is finished by another (Recover), and the first
// final answer is the answer to every later request with that key:
// concurrent duplicates share one run, a duplicate on another gateway waits
// for it, and a retry after a restart gets the stored answer.
func (c *Composer) Checkout(ctx context.Context, userID, key string) (Answer, error) {
	clientKey := key != ""
	if !clientKey {
		key = newKey()
	}
	id := userID + "/" + key
	ch := c.flights.DoChan(id, func() (any, error) {
		// Detached from the first caller's cancellation: a saga runs to its
		// end (or its compensations) even if that caller goes away.
		return c.settle(context.WithoutCancel(ctx), id, checkoutState{UserID: userID, Key: key, ClientKey: clientKey}, c.cfg.Deadline*4)
	})
	select {
	case r := <-ch:
		a, _ := r.Val.(Answer)
		a.Replayed = a.Replayed || r.Shared
		return a, r.Err
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
}

// settle gives the final answer of run id: the stored one when the run is
// finished; otherwise it claims the run and drives it (from the start, or
// from where its dead owner left it), or waits up to patience for the
// process that owns it.
func (c *Composer) settle(ctx context.Context, id string, s checkoutState, patience time.Duration) (Answer, error) {
	giveUp := time.Now().Add(patience)
	for {
		e, claimed, err := c.log.Claim(ctx, id, c.owner, c.cfg.Lease, mustJSON(s))
		if err != nil {
			return Answer{}, err
		}
		switch {
		case e.Done:
			return Answer{Status: e.Status, Body: e.Answer, Replayed: true}, nil
		case claimed && len(e.Run.Records) == 0 && string(e.State) == string(mustJSON(s)):
			a, err := c.drive(ctx, id, s, nil)
			if !errors.Is(err, orchestration.ErrSagaTaken) {
				return a, err
			}
		case claimed: // taken over from a process that died
			var from checkoutState
			if err := json.Unmarshal(e.State, &from); err != nil {
				return Answer{}, fmt.Errorf("checkout %s: state: %w", id, err)
			}
			a, err := c.drive(ctx, id, from, &e.Run)
			if !errors.Is(err, orchestration.ErrSagaTaken) {
				return a, err
			}
		}
		if time.Now().After(giveUp) {
			return Answer{}, fmt.Errorf("checkout %s: %w", id, ErrInProgress)
		}
		select { // another process drives it: wait for its answer
		case <-ctx.Done():
			return Answer{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// drive runs the saga for run id, which this process has claimed: from the
// start, or resumed from run. It stores and returns the final answer. A
// run past its pivot that cannot go forward yet is released for a later
// recovery pass, and the answer says so (ErrInProgress).
func (c *Composer) drive(ctx context.Context, id string, s checkoutState, run *orchestration.SagaRun) (Answer, error) {
	renewCtx, stopRenewing := context.WithCancel(ctx)
	defer stopRenewing()
	go c.renew(renewCtx, id)
	journal := func(ctx context.Context, s *checkoutState, run *orchestration.SagaRun) error {
		return c.log.Save(ctx, id, c.owner, c.cfg.Lease, mustJSON(s), run)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.cfg.Deadline)
	defer cancel()
	var (
		meta orchestration.Meta
		err  error
	)
	fresh := run == nil
	if fresh {
		run = &orchestration.SagaRun{}
		meta, err = c.checkout.RunJournaled(ctx, &s, run, journal)
	} else {
		var dir string
		meta, dir, err = c.checkout.Resume(ctx, &s, run, journal)
		c.recovered(ctx, id, dir, err)
	}
	if errors.Is(err, orchestration.ErrNotYet) {
		// Past the commit a step failed without saying what it made (the
		// orders service died or timed out while placing the order): the
		// run goes forward later, in a recovery pass.
		_ = c.log.Release(context.WithoutCancel(ctx), id, c.owner)
		return Answer{}, fmt.Errorf("checkout %s: paid for, its order not placed yet; the Idempotency-Key %q answers the order once a recovery pass has placed it: %w",
			id, s.Key, ErrInProgress)
	}
	if errors.Is(err, orchestration.ErrSagaTaken) {
		return Answer{}, err
	}
	res := Checkout{Order: s.Order, Meta: meta}
	status, body := c.cfg.Answer(res, err)
	answer := Answer{Status: status, Body: body, Replayed: s.Replayed, Meta: &meta, Err: err}
	if err == nil {
		answer.Checkout = &res
	}
	if fresh && err != nil && !domain.Is(err) && !run.Started(StepReserve) {
		// A failure of the service before anything was done (users or the
		// catalog down) is not the key's final answer: a retry runs again.
		return answer, c.log.Forget(context.WithoutCancel(ctx), id, c.owner)
	}
	if ferr := c.log.Finish(context.WithoutCancel(ctx), id, c.owner, mustJSON(s), run, status, body); ferr != nil {
		return Answer{}, ferr
	}
	return answer, nil
}

// renew keeps this process's claim of run id alive until ctx ends.
func (c *Composer) renew(ctx context.Context, id string) {
	t := time.NewTicker(c.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.log.Renew(ctx, id, c.owner, c.cfg.Lease); err != nil {
				return
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a checkoutState always marshals
	}
	return b
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "atrium-" + hex.EncodeToString(b)
}

// checkoutState is one checkout's state, step by step. It is kept in the
// saga log as JSON after every step, so that another process can finish
// the run from it: the order is made from this snapshot of the cart and its
// prices, never from what the cart holds by then.
type checkoutState struct {
	UserID    string `json:"user_id"`
	Key       string `json:"key"`
	ClientKey bool   `json:"client_key"` // the key is the client's, so a prior order may exist

	Cart     cart.Cart             `json:"cart"`
	Priced   *CartView             `json:"priced,omitempty"`
	Lines    []inventory.Line      `json:"lines,omitempty"`
	Res      inventory.Reservation `json:"reservation"`
	Charge   payments.Charge       `json:"charge"`
	Order    orders.Order          `json:"order"`
	Replayed bool                  `json:"replayed"`
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
			When: func(s *checkoutState) bool { return s.ClientKey }, Do: c.lookupKey},
		orchestration.SagaStep[checkoutState]{Name: StepUser, Service: services.Users, Policy: read, Read: true, Do: c.checkUser},
		orchestration.SagaStep[checkoutState]{Name: StepCart, Service: services.Cart, Policy: read, Read: true, Do: c.readCart},
		orchestration.SagaStep[checkoutState]{Name: StepPrice, Service: services.Catalog, Policy: c.read(true, c.cfg.CacheTTL), Read: true,
			Do: c.priceLines},
		// A reservation whose answer was lost may have been made: it is
		// found by key and released too.
		orchestration.SagaStep[checkoutState]{Name: StepReserve, Service: services.Inventory, Policy: c.write(), Do: c.reserve,
			Undo: &orchestration.Undo[checkoutState]{Name: CompRelease, Service: services.Inventory, Do: c.release}, UndoUnsure: true},
		// A charge whose answer was lost may have been made: it is found by
		// key and refunded too.
		orchestration.SagaStep[checkoutState]{Name: StepCharge, Service: services.Payments, Policy: c.write(), Do: c.charge,
			Undo: &orchestration.Undo[checkoutState]{Name: CompRefund, Service: services.Payments, Do: c.refund}, UndoUnsure: true},
		// Paid-for stock no longer expires. The commit comes before the
		// order, so that no placed order's stock can go back on sale;
		// releasing the reservation undoes the commit too. It is the pivot:
		// a run resumed after it goes forward to the order.
		orchestration.SagaStep[checkoutState]{Name: StepCommit, Service: services.Inventory, Policy: c.write(), Pivot: true,
			Do: func(ctx context.Context, s *checkoutState) error {
				_, err := c.svc.Inventory.Commit(ctx, s.Res.ID)
				return err
			}},
		orchestration.SagaStep[checkoutState]{Name: StepOrder, Service: services.Orders, Policy: c.write(), Do: c.createOrder},
		orchestration.SagaStep[checkoutState]{Name: StepClear, Service: services.Cart, Policy: optional,
			Do: func(ctx context.Context, s *checkoutState) error {
				_, err := c.svc.Cart.Clear(ctx, s.UserID)
				return err
			}},
	)
}

// lookupKey ends the saga with the key's order when one was placed.
func (c *Composer) lookupKey(ctx context.Context, s *checkoutState) error {
	prior, found, err := c.priorOrder(ctx, s.UserID, s.Key)
	if err != nil || !found {
		return err
	}
	s.Order, s.Replayed = prior, true
	return orchestration.ErrSkipRest
}

// priorOrder returns the order key placed for userID, and whether there is
// one; a key that placed another user's order is ErrKeyReused.
func (c *Composer) priorOrder(ctx context.Context, userID, key string) (orders.Order, bool, error) {
	prior, err := c.svc.Orders.ByKey(ctx, key)
	switch {
	case errors.Is(err, orders.ErrNotFound):
		return orders.Order{}, false, nil
	case err != nil:
		return orders.Order{}, false, err
	case prior.UserID != userID:
		return orders.Order{}, false, fmt.Errorf("key %q: %w", key, ErrKeyReused)
	}
	return prior, true, nil
}

// checkUser fails for a user who does not exist.
func (c *Composer) checkUser(ctx context.Context, s *checkoutState) error {
	_, err := c.svc.Users.User(ctx, s.UserID)
	return err
}

func (c *Composer) readCart(ctx context.Context, s *checkoutState) (err error) {
	s.Cart, err = c.svc.Cart.Cart(ctx, s.UserID)
	if err == nil && len(s.Cart.Items) == 0 {
		return fmt.Errorf("user %s: %w", s.UserID, ErrEmptyCart)
	}
	return err
}

func (c *Composer) priceLines(ctx context.Context, s *checkoutState) error {
	products, err := c.svc.Catalog.Products(ctx, cartIDs(s.Cart))
	if err != nil {
		return err
	}
	s.Priced = priceCart(s.Cart, products)
	if len(s.Priced.Items) != len(s.Cart.Items) {
		return ErrProductGone
	}
	s.Lines = make([]inventory.Line, len(s.Priced.Items))
	for i, l := range s.Priced.Items {
		s.Lines[i] = inventory.Line{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return nil
}

func (c *Composer) reserve(ctx context.Context, s *checkoutState) (err error) {
	s.Res, err = c.svc.Inventory.Reserve(ctx, inventory.ReserveRequest{Lines: s.Lines, UserID: s.UserID, Key: s.Key})
	if err == nil && (s.Res.UserID != s.UserID || !slices.Equal(s.Res.Lines, s.Lines)) {
		// The key reserved before, for another cart: not ours to release.
		return fmt.Errorf("reservation %s: %w", s.Res.ID, ErrKeyReused)
	}
	return err
}

// release releases the checkout's reservation. One whose answer was lost
// is found by its key: reserving again with the key returns it (or, when
// none was made, makes one, which is released as well: the same outcome).
func (c *Composer) release(ctx context.Context, s *checkoutState) error {
	if s.Res.ID == "" {
		r, err := c.svc.Inventory.Reserve(ctx, inventory.ReserveRequest{Lines: s.Lines, UserID: s.UserID, Key: s.Key})
		if errors.Is(err, inventory.ErrInsufficientStock) {
			return nil // nothing was, or can be, held
		}
		if err != nil {
			return err
		}
		if r.UserID != s.UserID || !slices.Equal(r.Lines, s.Lines) {
			return nil // the key's reservation is another checkout's: not ours to release
		}
		s.Res = r
	}
	_, err := c.svc.Inventory.Release(ctx, s.Res.ID)
	return err
}

func (c *Composer) charge(ctx context.Context, s *checkoutState) (err error) {
	req := payments.ChargeRequest{UserID: s.UserID, AmountCents: s.Priced.TotalCents, Currency: s.Priced.Currency, Key: s.Key}
	s.Charge, err = c.svc.Payments.Charge(ctx, req)
	if err == nil && (s.Charge.Status != payments.StatusSucceeded || s.Charge.UserID != s.UserID || s.Charge.AmountCents != req.AmountCents) {
		// The key charged before, for a checkout that failed or differed.
		return fmt.Errorf("charge %s (%s, %d cents for %s): %w",
			s.Charge.ID, s.Charge.Status, s.Charge.AmountCents, s.Charge.UserID, ErrKeyReused)
	}
	return err
}

// refund refunds the key's charge, if one was made.
func (c *Composer) refund(ctx context.Context, s *checkoutState) error {
	ch, err := c.svc.Payments.ByKey(ctx, s.Key)
	if errors.Is(err, payments.ErrNotFound) {
		return nil
	}
	if err == nil {
		_, err = c.svc.Payments.Refund(ctx, ch.ID)
	}
	return err
}

// newOrder is the order of s's priced cart, under its key.
func newOrder(s *checkoutState) orders.NewOrder {
	no := orders.NewOrder{UserID: s.UserID, Currency: s.Priced.Currency, PaymentID: s.Charge.ID, ReservationID: s.Res.ID, Key: s.Key}
	for _, l := range s.Priced.Items {
		no.Lines = append(no.Lines, orders.Line{ProductID: l.ProductID, Quantity: l.Quantity, PriceCents: l.PriceCents})
	}
	return no
}

func (c *Composer) createOrder(ctx context.Context, s *checkoutState) error {
	order, err := c.svc.Orders.Create(ctx, newOrder(s))
	if err != nil && !domain.Is(err) {
		// The order may have been written before the failure.
		if o, lerr := c.svc.Orders.ByKey(context.WithoutCancel(ctx), s.Key); lerr == nil {
			order, err = o, nil
		}
	}
	if err != nil {
		return err
	}
	if order.ReservationID != s.Res.ID {
		// Another gateway placed this key's order first, with its own
		// reservation: ours is a duplicate. The charge is the same (by key).
		_ = c.rt.Compensate(services.Inventory, func(ctx context.Context) error { return c.release(ctx, s) })
	}
	s.Order = order
	return nil
}
