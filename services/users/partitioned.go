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
	scheme partition.Scheme
	parts  []Service
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
	if len(parts) != scheme.Len() {
		panic(fmt.Sprintf("users: %d parts for the %d partitions of %s", len(parts), scheme.Len(), scheme))
	}
	return &partitioned{scheme: scheme, parts: parts}
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

// unavailable wraps a partition's failure; an answer (a domain error) and
// the caller's own end stay as they are.
func (p *partitioned) unavailable(i int, err error) error {
	if err == nil || domain.Is(err) || errors.Is(err, context.Canceled) {
		return err
	}
	return &partition.UnavailableError{Service: "users", Partition: p.scheme.Name(i), Err: err}
}

// byID is the partitions that may hold the user with id.
func (p *partitioned) byID(id string) []int {
	if p.scheme.Kind() == partition.Hash {
		return p.scheme.Between(id, id)
	}
	return p.scheme.Between("", "")
}

// User implements Service: the user from the partition that has it. When
// none has it but one did not answer, the user may be there: that
// partition's failure.
func (p *partitioned) User(ctx context.Context, id string) (User, error) {
	if !ValidID(id) {
		return User{}, fmt.Errorf("malformed user id %q: %w", id, ErrInvalid)
	}
	var failed error
	for _, r := range partition.Gather(ctx, p.byID(id), func(ctx context.Context, i int) (User, error) { return p.parts[i].User(ctx, id) }) {
		switch {
		case r.Err == nil:
			return r.Value, nil
		case !errors.Is(r.Err, ErrNotFound) && failed == nil:
			failed = p.unavailable(r.Index, r.Err)
		}
	}
	if failed != nil {
		return User{}, failed
	}
	return User{}, fmt.Errorf("user %s: %w", id, ErrNotFound)
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
			return nil, p.unavailable(r.Index, r.Err)
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
	var failed error
	for _, r := range partition.Gather(ctx, p.scheme.Between("", ""), func(ctx context.Context, i int) (User, error) {
		return p.parts[i].Authenticate(ctx, email, password)
	}) {
		switch {
		case r.Err == nil:
			return r.Value, nil
		case errors.Is(r.Err, ErrInvalid):
			return User{}, r.Err
		case !errors.Is(r.Err, ErrBadCredentials) && failed == nil:
			failed = p.unavailable(r.Index, r.Err)
		}
	}
	if failed != nil {
		return User{}, failed
	}
	return User{}, ErrBadCredentials
}

// Find implements Service: the query asked of the partitions it needs
// only, their users merged in order. A partition that does not answer
// makes the answer partial; when none answers, Find fails.
func (p *partitioned) Find(ctx context.Context, q Query) (Found, error) {
	if err := q.Check(); err != nil {
		return Found{}, err
	}
	found := Found{Users: []User{}}
	results := partition.Gather(ctx, p.needs(q), func(ctx context.Context, i int) (Found, error) { return p.parts[i].Find(ctx, q) })
	var failed error
	for _, r := range results {
		a := partition.Answer{Partition: p.scheme.Name(r.Index), Count: len(r.Value.Users)}
		if r.Err != nil {
			if domain.Is(r.Err) {
				return Found{}, r.Err
			}
			failed = p.unavailable(r.Index, r.Err)
			a.Error, found.Partial = failed.Error(), true
		}
		found.Users = append(found.Users, r.Value.Users...)
		found.Partitions = append(found.Partitions, a)
	}
	if failed != nil && allFailed(results) {
		return Found{}, failed
	}
	SortFound(found.Users)
	return found, nil
}

func allFailed[T any](rs []partition.Result[T]) bool {
	for _, r := range rs {
		if r.Err == nil {
			return false
		}
	}
	return true
}

// needs returns the partitions that may hold users q selects.
func (p *partitioned) needs(q Query) []int {
	switch p.scheme.Kind() {
	case partition.Range:
		return p.scheme.Between(q.SurnameFrom, q.SurnameTo)
	case partition.List:
		if len(q.Countries) > 0 {
			var which []int
			for _, c := range q.Countries {
				if i, err := p.scheme.Owner(c); err == nil && !slices.Contains(which, i) {
					which = append(which, i)
				}
			}
			slices.Sort(which)
			return which
		}
	}
	return p.scheme.Between("", "")
}
