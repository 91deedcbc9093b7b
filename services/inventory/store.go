package inventory

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// MaxLineQuantity bounds one reservation line.
const MaxLineQuantity = 1000

// Defaults of a Store's Options.
const (
	// DefaultHoldFor is how long a reservation is held before it expires:
	// far longer than a checkout takes.
	DefaultHoldFor = 2 * time.Minute
	// DefaultKeepFor is how long a reservation is remembered after it was
	// made, whatever became of it: long enough for any retry of its
	// checkout to find it, short enough to bound the Store's memory.
	DefaultKeepFor = time.Hour
)

// Store is the in-process inventory, starting from the seed stock. It is
// safe for concurrent use.
type Store struct {
	holdFor, keepFor time.Duration
	now              func() time.Time

	mu           sync.Mutex
	stock        map[string]*Stock
	reservations map[string]*Reservation
	byKey        map[string]*Reservation
	made         []made // every remembered reservation, oldest first
	due          int    // how many of made are past their hold
	next         int
}

// made is when a reservation was made.
type made struct {
	r  *Reservation
	at time.Time
}

// Option configures a Store.
type Option func(*Store)

// HoldFor sets how long a reservation is held before it expires
// [DefaultHoldFor].
func HoldFor(d time.Duration) Option { return func(s *Store) { s.holdFor = d } }

// KeepFor sets how long a reservation is remembered after it was made
// [DefaultKeepFor]; it is at least the hold.
func KeepFor(d time.Duration) Option { return func(s *Store) { s.keepFor = d } }

// Clock sets the Store's clock [time.Now].
func Clock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store with the seed stock levels.
func New(opts ...Option) *Store {
	data := seed.Load[struct {
		Stock []Stock `json:"stock"`
	}]("inventory", seedJSON)
	s := &Store{
		holdFor:      DefaultHoldFor,
		keepFor:      DefaultKeepFor,
		now:          time.Now,
		stock:        make(map[string]*Stock, len(data.Stock)),
		reservations: map[string]*Reservation{},
		byKey:        map[string]*Reservation{},
	}
	for _, o := range opts {
		o(s)
	}
	s.keepFor = max(s.keepFor, s.holdFor)
	for _, st := range data.Stock {
		s.stock[st.ProductID] = &Stock{ProductID: st.ProductID, Available: st.Available}
	}
	return s
}

// expire releases the holds that have run out and forgets the
// reservations past keepFor; the caller holds s.mu. Every hold lasts
// holdFor, so reservations run out in the order they were made.
func (s *Store) expire() {
	now := s.now()
	for ; s.due < len(s.made); s.due++ {
		m := s.made[s.due]
		if now.Before(m.at.Add(s.holdFor)) {
			break
		}
		if m.r.Status == StatusHeld {
			s.move(m.r, func(st *Stock, q int) { st.Reserved -= q; st.Available += q })
			m.r.Status = StatusExpired
		}
	}
	n := 0
	for ; n < s.due && !now.Before(s.made[n].at.Add(s.keepFor)); n++ {
		r := s.made[n].r
		delete(s.reservations, r.ID)
		if s.byKey[r.Key] == r {
			delete(s.byKey, r.Key)
		}
		s.made[n] = made{}
	}
	s.made, s.due = s.made[n:], s.due-n
}

// move applies f to the stock of each of r's lines; the caller holds s.mu.
func (s *Store) move(r *Reservation, f func(st *Stock, q int)) {
	for _, l := range r.Lines {
		f(s.stock[l.ProductID], l.Quantity)
	}
}

// Stock implements Service.
func (s *Store) Stock(_ context.Context, productID string) (Stock, error) {
	if !ValidProductID(productID) {
		return Stock{}, fmt.Errorf("malformed product id %q: %w", productID, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	st, ok := s.stock[productID]
	if !ok {
		return Stock{}, fmt.Errorf("stock of %s: %w", productID, ErrNotFound)
	}
	return *st, nil
}

// Stocks implements Service.
func (s *Store) Stocks(_ context.Context, productIDs []string) ([]Stock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	return seed.Pick(productIDs, ValidProductID, ErrInvalid, func(id string) (Stock, bool) {
		st, ok := s.stock[id]
		if !ok {
			return Stock{}, false
		}
		return *st, true
	})
}

// Reserve implements Service.
func (s *Store) Reserve(_ context.Context, req ReserveRequest) (Reservation, error) {
	lines := req.Lines
	if len(lines) == 0 {
		return Reservation{}, fmt.Errorf("reserve: no lines: %w", ErrInvalid)
	}
	if (req.Key != "" && !domain.ValidKey(req.Key)) || len(req.UserID) > 64 {
		return Reservation{}, fmt.Errorf("reserve: malformed idempotency key or user id: %w", ErrInvalid)
	}
	want := map[string]int{}
	for _, l := range lines {
		if !ValidProductID(l.ProductID) || l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return Reservation{}, fmt.Errorf("reserve: line %s x %d: %w", l.ProductID, l.Quantity, ErrInvalid)
		}
		want[l.ProductID] += l.Quantity
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	if r, ok := s.byKey[req.Key]; ok && (r.Status == StatusHeld || r.Status == StatusCommitted) {
		return r.view(), nil
	}
	for id, q := range want {
		st, ok := s.stock[id]
		if !ok {
			return Reservation{}, fmt.Errorf("reserve %s: %w", id, ErrNotFound)
		}
		if st.Available < q {
			return Reservation{}, fmt.Errorf("reserve %d of %s, %d available: %w", q, id, st.Available, ErrInsufficientStock)
		}
	}
	s.next++
	now := s.now()
	expires := now.Add(s.holdFor)
	r := &Reservation{ID: fmt.Sprintf("res-%d", s.next), Lines: slices.Clone(lines), Status: StatusHeld,
		ExpiresAt: &expires, UserID: req.UserID, Key: req.Key}
	s.move(r, func(st *Stock, q int) { st.Available -= q; st.Reserved += q })
	s.reservations[r.ID] = r
	if req.Key != "" {
		s.byKey[req.Key] = r
	}
	s.made = append(s.made, made{r, now})
	return r.view(), nil
}

// Commit implements Service.
func (s *Store) Commit(_ context.Context, id string) (Reservation, error) {
	return s.update(id, "commit", func(r *Reservation) error {
		switch r.Status {
		case StatusHeld:
			s.move(r, func(st *Stock, q int) { st.Reserved -= q; st.Sold += q })
			r.Status, r.ExpiresAt = StatusCommitted, nil
		case StatusReleased, StatusExpired:
			return fmt.Errorf("commit %s (%s): %w", r.ID, r.Status, ErrNotHeld)
		}
		return nil
	})
}

// Release implements Service.
func (s *Store) Release(_ context.Context, id string) (Reservation, error) {
	return s.update(id, "release", func(r *Reservation) error {
		switch r.Status {
		case StatusHeld:
			s.move(r, func(st *Stock, q int) { st.Reserved -= q; st.Available += q })
		case StatusCommitted:
			s.move(r, func(st *Stock, q int) { st.Sold -= q; st.Available += q })
		default:
			return nil
		}
		r.Status, r.ExpiresAt = StatusReleased, nil
		return nil
	})
}

// update applies f to reservation id under the lock, after expiring the
// holds that ran out.
func (s *Store) update(id, verb string, f func(*Reservation) error) (Reservation, error) {
	if !ValidReservationID(id) {
		return Reservation{}, fmt.Errorf("malformed reservation id %q: %w", id, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	r, ok := s.reservations[id]
	if !ok {
		return Reservation{}, fmt.Errorf("%s %s: %w", verb, id, ErrNotFound)
	}
	if err := f(r); err != nil {
		return Reservation{}, err
	}
	return r.view(), nil
}

// view is a copy of r that shares nothing with the Store.
func (r *Reservation) view() Reservation {
	v := *r
	v.Lines = slices.Clone(r.Lines)
	if r.ExpiresAt != nil {
		t := *r.ExpiresAt
		v.ExpiresAt = &t
	}
	return v
}

var _ Service = (*Store)(nil)
