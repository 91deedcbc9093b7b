package users

import (
	"context"
	_ "embed"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/atrium-bff/atrium/internal/seed"
	"github.com/atrium-bff/atrium/partition"
)

//go:embed seed.json
var seedJSON []byte

// Store is the in-process users service over the seed users. It is
// read-only and safe for concurrent use.
type Store struct {
	byID    map[string]User
	byEmail map[string]account
	hashing chan struct{} // a slot per password comparison that may run at once
}

type account struct {
	user User
	hash []byte // bcrypt
}

// New returns a Store holding the seed users.
func New() *Store { return NewPart(func(User) bool { return true }) }

// NewPart returns a Store holding the seed users that keep says it keeps:
// one partition's (Partition builds such a keep).
func NewPart(keep func(User) bool) *Store {
	data := seed.Load[struct {
		Users []struct {
			User
			PasswordHash string `json:"password_hash"`
		} `json:"users"`
	}]("users", seedJSON)
	s := &Store{byID: make(map[string]User, len(data.Users)), byEmail: make(map[string]account, len(data.Users)),
		hashing: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for _, u := range data.Users {
		if !keep(u.User) {
			continue
		}
		s.byID[u.ID] = u.User
		s.byEmail[strings.ToLower(u.Email)] = account{user: u.User, hash: []byte(u.PasswordHash)}
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

// dummyHash, of a password nobody has, is compared against when the email
// is unknown, so that an unknown email takes as long as a wrong password.
const dummyHash = "$2a$10$kKZlde/rrLivDFL37KNXd.xuiEUadtA27dimfGg6xqajGXGvlCdea"

// Authenticate implements Service. The seed users' passwords are
// "atrium-" and their id ("atrium-u01").
//
// A bcrypt comparison costs tens of milliseconds of CPU; at most one per
// core runs at once, and a call whose context ends while it waits for its
// turn gives up with the context's error rather than queue past its
// caller's deadline.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	if email == "" || len(email) > 254 || password == "" || len(password) > 72 {
		return User{}, fmt.Errorf("email and password (up to 72 bytes) are required: %w", ErrInvalid)
	}
	select {
	case s.hashing <- struct{}{}:
		defer func() { <-s.hashing }()
	case <-ctx.Done():
		return User{}, fmt.Errorf("authenticate: waiting for a turn: %w", ctx.Err())
	}
	acc, ok := s.byEmail[strings.ToLower(email)]
	hash := acc.hash
	if !ok {
		hash = []byte(dummyHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return User{}, ErrBadCredentials
	}
	return acc.user, nil
}

// Find implements Service.
func (s *Store) Find(_ context.Context, q Query) (Found, error) {
	if err := q.Check(); err != nil {
		return Found{}, err
	}
	found := Found{Users: []User{}}
	for _, u := range s.byID {
		if q.Match(u) {
			found.Users = append(found.Users, u)
		}
	}
	SortFound(found.Users)
	return found, nil
}

// Partition returns the keep of NewPart for partition i of scheme.
func Partition(scheme partition.Scheme, i int) func(User) bool {
	return func(u User) bool {
		owner, err := scheme.Owner(KeyOf(scheme.Kind(), u))
		return err == nil && owner == i
	}
}

var _ Service = (*Store)(nil)
