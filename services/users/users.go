// Package users holds customer profiles. Store is the in-process
// implementation; package usershttp carries the Service over HTTP.
package users

import (
	"context"

	"github.com/atrium-bff/atrium/internal/domain"
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
