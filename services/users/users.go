// Package users holds customer profiles. Store is the in-process
// implementation; package usershttp carries the Service over HTTP.
package users

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/partition"
)

// User is a customer profile. Country is an ISO 3166-1 alpha-2 code.
type User struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Country string `json:"country"`
}

// Service is the users' contract.
type Service interface {
	// User returns one user, or ErrNotFound.
	User(ctx context.Context, id string) (User, error)
	// Users returns the users among ids that exist, in order.
	Users(ctx context.Context, ids []string) ([]User, error)
	// Authenticate returns the user whose email and password these are, or
	// ErrBadCredentials (the same for an unknown email and a wrong password).
	Authenticate(ctx context.Context, email, password string) (User, error)
	// Find returns the users that q selects, by surname then id.
	Find(ctx context.Context, q Query) (Found, error)
}

// Query selects users; every condition given must hold.
type Query struct {
	// SurnameFrom and SurnameTo bound the surname, without regard to case:
	// a user matches when SurnameFrom <= surname and the surname's first
	// len(SurnameTo) letters <= SurnameTo, so "E" to "Q" is every surname
	// from E to the last one under Q. Empty: no bound.
	SurnameFrom, SurnameTo string
	// Countries, when any, are the countries to match.
	Countries []string
}

// Found is what Find found. A partitioned users service also says what
// each partition it asked answered; Partial is true when one did not, and
// Users then holds the others' users only.
type Found struct {
	Users      []User             `json:"users"`
	Partitions []partition.Answer `json:"partitions,omitempty"`
	Partial    bool               `json:"partial"`
}

// Errors of the users service.
var (
	ErrNotFound = domain.New(domain.NotFound, "user not found")
	ErrInvalid  = domain.New(domain.Invalid, "invalid users request")
	// ErrBadCredentials reports an email and password that do not match.
	ErrBadCredentials = domain.New(domain.Unauthenticated, "wrong email or password")
)

// ValidID reports whether id is a well-formed user id ("u" and 2 to 8 digits).
func ValidID(id string) bool { return domain.ValidUserID(id) }

// Surname is the last word of u's name, upper-cased: what a range
// partition and a Query compare.
func Surname(u User) string {
	name := strings.TrimSpace(u.Name)
	return strings.ToUpper(name[strings.LastIndexByte(name, ' ')+1:])
}

// KeyOf is u's key under a partitioning of kind: its country under a
// list, its surname under a range, its id under a hash.
func KeyOf(kind partition.Kind, u User) string {
	switch kind {
	case partition.List:
		return u.Country
	case partition.Range:
		return Surname(u)
	}
	return u.ID
}

// Check validates q: bounds of up to 32 letters, countries of two capitals.
func (q Query) Check() error {
	for _, b := range []string{q.SurnameFrom, q.SurnameTo} {
		if len(b) > 32 || strings.ContainsFunc(b, func(r rune) bool { return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z') }) {
			return fmt.Errorf("surname bound %q: want up to 32 letters A to Z: %w", b, ErrInvalid)
		}
	}
	if len(q.Countries) > 50 {
		return fmt.Errorf("%d countries: want at most 50: %w", len(q.Countries), ErrInvalid)
	}
	for _, c := range q.Countries {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return fmt.Errorf("country %q: want an ISO 3166-1 alpha-2 code such as DE: %w", c, ErrInvalid)
		}
	}
	return nil
}

// Match reports whether q selects u.
func (q Query) Match(u User) bool {
	s := Surname(u)
	if q.SurnameFrom != "" && s < strings.ToUpper(q.SurnameFrom) {
		return false
	}
	if to := strings.ToUpper(q.SurnameTo); to != "" && s[:min(len(s), len(to))] > to {
		return false
	}
	return len(q.Countries) == 0 || slices.Contains(q.Countries, u.Country)
}

// SortFound orders users as Find returns them: by surname, then id.
func SortFound(us []User) {
	slices.SortFunc(us, func(a, b User) int {
		return cmp.Or(strings.Compare(Surname(a), Surname(b)), strings.Compare(a.ID, b.ID))
	})
}
