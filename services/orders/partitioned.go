package orders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/partition"
)

// partitioned is the orders Service over partitions by user id: each
// partition holds its users' orders, and numbers them so that an order id
// tells its partition (OpenPart).
type partitioned struct {
	partition.Router
	parts []Service
}

// Partitioned returns the orders Service over parts, where parts[i] holds
// the orders of the users that scheme, a hash of user ids, puts in
// partition i (CheckScheme). An order is created in its user's partition,
// read from the partition its id names, and a user's orders from that
// user's partition; an idempotency key, no partition's key, is looked for
// in every partition, and the recent orders of all are merged newest
// first. A partition that does not answer fails only the calls that need
// it, with a *partition.UnavailableError.
func Partitioned(scheme partition.Scheme, parts []Service) Service {
	return &partitioned{Router: partition.NewRouter("orders", scheme, len(parts), domain.Is), parts: parts}
}

// Parts returns the partitions, for what runs each of them in-process (a
// monolith relaying each partition's events).
func (p *partitioned) Parts() []any {
	out := make([]any, len(p.parts))
	for i, s := range p.parts {
		out[i] = s
	}
	return out
}

// CheckScheme refuses a scheme that orders cannot run under: they are
// partitioned by user id, which only a hash spreads (every user id starts
// with u, and a list of user ids would not take a new user).
func CheckScheme(scheme partition.Scheme) error {
	if scheme.Kind() != partition.Hash {
		return fmt.Errorf("orders are partitioned by user id: use hash:N, not %s", scheme)
	}
	return nil
}

// owner is the partition of userID's orders.
func (p *partitioned) owner(userID string) (int, error) {
	if !ValidUserID(userID) {
		return 0, fmt.Errorf("malformed user id %q: %w", userID, ErrInvalid)
	}
	return p.Scheme.Owner(userID)
}

// Create implements Service, in the user's partition.
func (p *partitioned) Create(ctx context.Context, o NewOrder) (Order, error) {
	i, err := p.owner(o.UserID)
	if err != nil {
		return Order{}, err
	}
	created, err := p.parts[i].Create(ctx, o)
	return created, p.Failed(i, err)
}

// Order implements Service, from the partition the id names.
func (p *partitioned) Order(ctx context.Context, id string) (Order, error) {
	if !ValidID(id) {
		return Order{}, fmt.Errorf("malformed order id %q: %w", id, ErrInvalid)
	}
	i := PartOf(id, p.Scheme.Len())
	o, err := p.parts[i].Order(ctx, id)
	return o, p.Failed(i, err)
}

// ByKey implements Service, asking every partition.
func (p *partitioned) ByKey(ctx context.Context, key string) (Order, error) {
	if !domain.ValidKey(key) {
		return Order{}, fmt.Errorf("malformed idempotency key: %w", ErrInvalid)
	}
	return partition.First(ctx, p.Router, p.Scheme.Between("", ""), func(err error) bool { return errors.Is(err, ErrNotFound) },
		func(ctx context.Context, i int) (Order, error) { return p.parts[i].ByKey(ctx, key) })
}

// ByUser implements Service, from the user's partition.
func (p *partitioned) ByUser(ctx context.Context, userID string, limit int) ([]Order, error) {
	i, err := p.owner(userID)
	if err != nil {
		return nil, err
	}
	list, err := p.parts[i].ByUser(ctx, userID, limit)
	return list, p.Failed(i, err)
}

// Since implements Service: every partition's newest, merged newest
// first.
func (p *partitioned) Since(ctx context.Context, since time.Time, limit int) (Recent, error) {
	if limit < 1 || limit > MaxLimit {
		return Recent{}, fmt.Errorf("limit %d not in 1..%d: %w", limit, MaxLimit, ErrInvalid)
	}
	list, answers, partial, err := partition.Merge(ctx, p.Router, p.Scheme.Between("", ""), func(ctx context.Context, i int) ([]Order, error) {
		rec, err := p.parts[i].Since(ctx, since, limit)
		return rec.Orders, err
	})
	if err != nil {
		return Recent{}, err
	}
	slices.SortFunc(list, func(a, b Order) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(number(b.ID), number(a.ID)))
	})
	return Recent{Orders: list[:min(len(list), limit)], Partitions: answers, Partial: partial}, nil
}
