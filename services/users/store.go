package users

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
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
	var seed struct {
		Users []User `json:"users"`
	}
	if err := json.Unmarshal(seedJSON, &seed); err != nil {
		panic(fmt.Sprintf("users: bad embedded seed: %v", err))
	}
	s := &Store{byID: make(map[string]User, len(seed.Users))}
	for _, u := range seed.Users {
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
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if !ValidID(id) {
			return nil, fmt.Errorf("malformed user id %q: %w", id, ErrInvalid)
		}
		if u, ok := s.byID[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

var _ Service = (*Store)(nil)
