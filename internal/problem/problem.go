// Package problem writes and reads RFC 9457 problem details
// (application/problem+json), the one error format of every atrium process.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. Code and RequestID are extension
// members: Code names the domain error so that a client can map it back to the
// same sentinel error, and RequestID joins the answer to the access log.
type Problem struct {
	Type      string `json:"type,omitempty"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Ext holds further extension members, written beside the others.
	Ext map[string]any `json:"-"`
}

// MarshalJSON writes the members and the extension members in one object.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Ext) == 0 {
		return b, err
	}
	ext, err := json.Marshal(p.Ext)
	if err != nil {
		return nil, err
	}
	return append(append(b[:len(b)-1], ','), ext[1:]...), nil
}

// New returns a problem with the status's standard title and the given detail.
func New(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(status int, code, format string, args ...any) *Problem {
	return New(status, code, fmt.Sprintf(format, args...))
}

// Error makes a Problem an error, so handlers can return one.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return p.Title
	}
	return p.Detail
}

// As reports whether err is or wraps a *Problem, and returns it.
func As(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

// FromCoded reports whether err is or wraps a Coded error, and returns its
// problem, with err's message as the detail.
func FromCoded(err error) (*Problem, bool) {
	var c Coded
	if errors.As(err, &c) {
		return New(c.HTTPStatus(), c.ProblemCode(), err.Error()), true
	}
	return nil, false
}

// Coded is an error that knows its status and code, for the packages
// below this one's users that must not import it (a partition that did not
// answer is a 503 partition_unavailable).
type Coded interface {
	error
	HTTPStatus() int
	ProblemCode() string
}

// Write sends p as the response, with the problem media type.
func Write(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
