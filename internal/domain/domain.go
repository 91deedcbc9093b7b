// Package domain tells expected answers from failures. A service's error
// sentinels are domain errors: "not found", "invalid", "conflict" and
// "rejected" are answers the service gives on purpose, so a caller must not
// retry them, count them against a circuit breaker, or hide them behind a
// cached value. Any other error (a timeout, a refused connection, a 5xx, an
// injected fault) is a failure of the service.
package domain

import (
	"errors"
	"net/http"
	"strings"
)

// Kind is the kind of a domain error.
type Kind uint8

// The kinds of domain error.
const (
	NotFound        Kind = iota + 1 // the entity does not exist
	Invalid                         // the request is malformed
	Conflict                        // the request conflicts with the current state
	Rejected                        // the request is well-formed but refused (a declined payment)
	Unauthenticated                 // the caller is not who it must be (bad credentials, no session)
)

// Status returns the HTTP status of a kind.
func (k Kind) Status() int {
	switch k {
	case NotFound:
		return http.StatusNotFound
	case Invalid:
		return http.StatusBadRequest
	case Conflict:
		return http.StatusConflict
	case Rejected:
		return http.StatusPaymentRequired
	case Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// String returns the kind's code: "not_found", "invalid", "conflict" or
// "rejected".
func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not_found"
	case Invalid:
		return "invalid"
	case Conflict:
		return "conflict"
	case Rejected:
		return "rejected"
	case Unauthenticated:
		return "unauthenticated"
	}
	return "failure"
}

// Error is a domain error. Compare sentinels with errors.Is.
type Error struct {
	kind Kind
	msg  string
}

// New returns a domain error of kind with message msg, for a sentinel.
func New(kind Kind, msg string) error { return &Error{kind: kind, msg: msg} }

func (e *Error) Error() string { return e.msg }

// KindOf returns the kind of the domain error in err's chain, or 0 when err
// is nil or not a domain error.
func KindOf(err error) Kind {
	if err == nil {
		return 0 // without errors.As's allocation: the breaker asks of every call
	}
	var e *Error
	if errors.As(err, &e) {
		return e.kind
	}
	return 0
}

// Is reports whether err is a domain error: an answer, not a failure.
func Is(err error) bool { return KindOf(err) != 0 }

// ValidKey reports whether key is a usable idempotency key: 1 to 200
// printable ASCII characters, no space.
func ValidKey(key string) bool {
	if len(key) < 1 || len(key) > 200 {
		return false
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Numbered reports whether id is prefix followed by min to max ASCII
// digits, as the services' ids are (p001, u01, o-000001, res-7).
func Numbered(id, prefix string, min, max int) bool {
	digits, ok := strings.CutPrefix(id, prefix)
	if !ok || len(digits) < min || len(digits) > max {
		return false
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// ValidProductID reports whether id is a well-formed product id: p and 3
// to 8 digits.
func ValidProductID(id string) bool { return Numbered(id, "p", 3, 8) }

// ValidUserID reports whether id is a well-formed user id: u and 2 to 8
// digits.
func ValidUserID(id string) bool { return Numbered(id, "u", 2, 8) }
