package users

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/partition"
)

// partitioned is the users Service over partitions, each a Service that
// holds the users its partition owns (KeyOf): the Z axis.
type partitioned struct {
	partition.Router
	parts []Service
}

// Partitioned returns the users Service over parts, where parts[i] holds
// the users that scheme puts in partition i. It sends a call to the
// partitions that can answer it: a user by id to its owner under a hash
// scheme (the id is the key) and to every partition under a list or range
// scheme (the key is a country or surname, which an id does not tell); a
// query by surname to the partitions whose runs it meets, by country to
// those countries' owners. A partition that does not answer fails only the
// calls that need it, with a *partition.UnavailableError.
func Partitioned(scheme partition.Scheme, parts []Service) Service {
	return &partitioned{Router: partition.NewRouter("users", scheme, len(parts), domain.Is), parts: parts}
}

// CheckSeed reports a seed user that no partition of scheme owns: a scheme
// that would lose users.
func CheckSeed(scheme partition.Scheme) error {
	for _, u := range New().byID {
		if _, err := scheme.Owner(KeyOf(scheme.Kind(), u)); err != nil {
			return fmt.Errorf("user %s (%s, %s) would be in no partition of %s: %w", u.ID, u.Name, u.Country, scheme, err)
		}
	}
	return nil
}

// byID is the partitions that may hold the user with id.
func (p *partitioned) byID(id string) []int {
	if p.Scheme.Kind() == partition.Hash {
		return p.Scheme.Between(id, id)
	}
	return p.Scheme.Between("", "")
}

func notFound(err error) bool { return errors.Is(err, ErrNotFound) }

// User implements Service: the user from the partition that has it. When
// none has it but one did not answer, the user may be there: that
// partition's failure.
func (p *partitioned) User(ctx context.Context, id string) (User, error) {
	if !ValidID(id) {
		return User{}, fmt.Errorf("malformed user id %q: %w", id, ErrInvalid)
	}
	return partition.First(ctx, p.Router, p.byID(id), notFound, func(ctx context.Context, i int) (User, error) { return p.parts[i].User(ctx, id) })
}

// Users implements Service: each id asked of the partitions that may hold
// it, the answers in the order of ids.
func (p *partitioned) Users(ctx context.Context, ids []string) ([]User, error) {
	asked := make(map[int][]string)
	for _, id := range ids {
		if !ValidID(id) {
			return nil, fmt.Errorf("malformed id %q: %w", id, ErrInvalid)
		}
		for _, i := range p.byID(id) {
			asked[i] = append(asked[i], id)
		}
	}
	which := make([]int, 0, len(asked))
	for i := range asked {
		which = append(which, i)
	}
	slices.Sort(which)
	found := make(map[string]User, len(ids))
	for _, r := range partition.Gather(ctx, which, func(ctx context.Context, i int) ([]User, error) { return p.parts[i].Users(ctx, asked[i]) }) {
		if r.Err != nil {
			return nil, p.Failed(r.Index, r.Err)
		}
		for _, u := range r.Value {
			found[u.ID] = u
		}
	}
	out := make([]User, 0, len(found))
	for _, id := range ids {
		if u, ok := found[id]; ok {
			out = append(out, u)
			delete(found, id) // an id asked twice is answered once, as a Store does
		}
	}
	return out, nil
}

// Authenticate implements Service. An email is no partition's key, so every
// partition is asked; the one that holds the account answers. When none
// does but one did not answer, the account may be there: that partition's
// failure, not a wrong password.
func (p *partitioned) Authenticate(ctx context.Context, email, password string) (User, error) {
	return partition.First(ctx, p.Router, p.Scheme.Between("", ""), func(err error) bool { return errors.Is(err, ErrBadCredentials) },
		func(ctx context.Context, i int) (User, error) { return p.parts[i].Authenticate(ctx, email, password) })
}

// Find implements Service: the query asked of the partitions it needs
// only, their users merged in order. A partition that does not answer
// makes the answer partial; when none answers, Find fails.
func (p *partitioned) Find(ctx context.Context, q Query) (Found, error) {
	if err := q.Check(); err != nil {
		return Found{}, err
	}
	us, answers, partial, err := partition.Merge(ctx, p.Router, p.needs(q), func(ctx context.Context, i int) ([]User, error) {
		found, err := p.parts[i].Find(ctx, q)
		return found.Users, err
	})
	if err != nil {
		return Found{}, err
	}
	SortFound(us)
	return Found{Users: us, Partitions: answers, Partial: partial}, nil
}

// needs returns the partitions that may hold users q selects.
func (p *partitioned) needs(q Query) []int {
	switch p.Scheme.Kind() {
	case partition.Range:
		return p.Scheme.Between(q.SurnameFrom, q.SurnameTo)
	case partition.List:
		if len(q.Countries) > 0 {
			var which []int
			for _, c := range q.Countries {
				if i, err := p.Scheme.Owner(c); err == nil && !slices.Contains(which, i) {
					which = append(which, i)
				}
			}
			slices.Sort(which)
			return which
		}
	}
	return p.Scheme.Between("", "")
}
