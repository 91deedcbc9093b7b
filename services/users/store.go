package users

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/atrium-bff/atrium/internal/seed"
)

//go:embed seed.json
var seedJSON []byte

// Store is the in-process users service over the seed users. It is
// read-only and safe for concurrent use.
type Store struct {
	byID map[string]User
}

// New returns a Store holding the seed users.
func New() *Store {
	data := seed.Load[struct {
		Users []User `json:"users"`
	}]("users", seedJSON)
	s := &Store{byID: make(map[string]User, len(data.Users))}
	for _, u := range data.Users {
		s.byID[u.ID] = u
	}
	return s
}

// User implements Service.
func (s *Store) User(_ context.Context, id string) (User, error) {
	if !ValidID(id) {
		return User{}, fmt.Errorf("malformed user id %q: %w", id, ErrInvalid)
	}
	u, ok := s.byID[id]
	if !ok {
		return User{}, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return u, nil
}

// Users implements Service.
func (s *Store) Users(_ context.Context, ids []string) ([]User, error) {
	return seed.Pick(ids, ValidID, ErrInvalid, func(id string) (User, bool) {
		u, ok := s.byID[id]
		return u, ok
	})
}

var _ Service = (*Store)(nil)
