// Package rest holds what every service transport shares: the table that maps
// a service's error sentinels to HTTP statuses and back, strict JSON binding,
// batch-id parsing on the server side, and typed JSON calls on the client side.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
)

// ErrInvalid is wrapped by every bad-input error this package reports.
var ErrInvalid = domain.New(domain.Invalid, "invalid request")

// MaxBatch is the most ids a batch read accepts.
const MaxBatch = 100

// Error is one row of a service's error table: a domain sentinel and the
// code that names it on the wire. Its status follows from its domain.Kind.
type Error struct {
	Err  error
	Code string
}

// Errors maps a service's sentinel errors to HTTP and back. The first row
// whose Err matches (errors.Is) wins, so list specific errors first.
type Errors []Error

// Problem returns the problem for err, or nil when no row matches.
func (t Errors) Problem(err error) *problem.Problem {
	for _, row := range t {
		if errors.Is(err, row.Err) {
			return problem.New(domain.KindOf(row.Err).Status(), row.Code, err.Error())
		}
	}
	return nil
}

// StatusError is what a client returns for a problem whose code the table
// does not know.
type StatusError struct {
	Status int
	Detail string
}

func (e *StatusError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Detail) }

// Unwrap makes a 504 from the server a context.DeadlineExceeded: the
// deadline the caller propagated passed there first.
func (e *StatusError) Unwrap() error {
	if e.Status == http.StatusGatewayTimeout {
		return context.DeadlineExceeded
	}
	return nil
}

// FromProblem turns a problem received from a server back into the sentinel
// its code names, wrapped with the detail, so errors.Is answers the same on
// both sides of the wire.
func (t Errors) FromProblem(p *problem.Problem) error {
	for _, row := range t {
		if row.Code != "" && row.Code == p.Code {
			if p.Detail == row.Err.Error() {
				return row.Err
			}
			return fmt.Errorf("%s: %w", strings.TrimSuffix(p.Detail, ": "+row.Err.Error()), row.Err)
		}
	}
	return &StatusError{Status: p.Status, Detail: p.Detail}
}

// NewHandler returns an echo instance for a service's routes whose errors
// answer as problems through t. register adds the routes, which must be
// exactly those that surface declares: otherwise NewHandler panics, a
// programming error that every test building the handler catches.
func NewHandler(t Errors, surface Surface, register func(e *echo.Echo)) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := t.Problem(err)
		if p == nil {
			p = problemFor(err)
		}
		cp := *p
		cp.Instance = c.Request().URL.Path
		cp.RequestID = c.Request().Header.Get(echo.HeaderXRequestID)
		problem.Write(c.Response(), &cp)
	}
	// Name the service's own route on the span the request is in, and
	// for the server span of a process that serves it under a wildcard.
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			trace.SpanFromContext(ctx).SetAttributes(attribute.String("atrium.route", c.Request().Method+" "+c.Path()))
			hop.SetRoute(ctx, c.Path())
			return next(c)
		}
	})
	register(e)
	if err := surface.check(e); err != nil {
		panic(err)
	}
	return e
}

func problemFor(err error) *problem.Problem {
	if p, ok := problem.As(err); ok {
		return p
	}
	if k := domain.KindOf(err); k != 0 {
		return problem.New(k.Status(), k.String(), err.Error())
	}
	if p, ok := problem.FromCoded(err); ok {
		return p
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return problem.New(he.Code, "", fmt.Sprint(he.Message))
	}
	return problem.New(http.StatusInternalServerError, "internal", "internal server error")
}

// NotJSON is the 415 problem of a body whose Content-Type is ct, not JSON.
func NotJSON(ct string) error {
	return problem.Newf(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json, not %q", ct)
}

// Bind decodes the request's JSON body into v, rejecting unknown fields
// and trailing data (errors that wrap ErrInvalid) and a body that is not
// application/json (a 415 problem).
func Bind(c echo.Context, v any) error {
	r := c.Request()
	if ct := r.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
			return NotJSON(ct)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("request body is empty: %w", ErrInvalid)
		}
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return echo.ErrStatusRequestEntityTooLarge
		}
		var netErr net.Error
		if errors.As(err, &netErr) { // the connection's error names addresses: say what happened instead
			if netErr.Timeout() {
				return problem.New(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time")
			}
			return fmt.Errorf("the request body could not be read: %w", ErrInvalid)
		}
		return fmt.Errorf("request body is not valid JSON: %s: %w", err.Error(), ErrInvalid)
	}
	if dec.More() {
		return fmt.Errorf("request body has data after the JSON value: %w", ErrInvalid)
	}
	return nil
}

// IDs parses the query parameter name as a comma-separated list of ids, each
// checked by valid. It rejects an empty list and more than MaxBatch ids.
func IDs(c echo.Context, name string, valid func(string) bool) ([]string, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return nil, fmt.Errorf("query parameter %q is empty: %w", name, ErrInvalid)
	}
	return SplitIDs(raw, valid)
}

// SplitIDs is the parsing half of IDs.
func SplitIDs(raw string, valid func(string) bool) ([]string, error) {
	parts := strings.Split(raw, ",")
	if len(parts) > MaxBatch {
		return nil, fmt.Errorf("at most %d ids per batch, got %d: %w", MaxBatch, len(parts), ErrInvalid)
	}
	for _, id := range parts {
		if !valid(id) {
			return nil, fmt.Errorf("malformed id %q: %w", id, ErrInvalid)
		}
	}
	return parts, nil
}

// Limit parses the query parameter "limit" within [1, max], with def when absent.
func Limit(c echo.Context, def, max int) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d, got %q: %w", max, raw, ErrInvalid)
	}
	return n, nil
}

// Param returns the path parameter name after checking it with valid.
func Param(c echo.Context, name string, valid func(string) bool) (string, error) {
	v := c.Param(name)
	if !valid(v) {
		return "", fmt.Errorf("malformed %s %q: %w", name, v, ErrInvalid)
	}
	return v, nil
}

// Listing parses the query of a list by status and age: status, which
// must be want, before (RFC 3339) and limit (1 to 1000, default 100).
func Listing(c echo.Context, want string) (time.Time, int, error) {
	if got := c.QueryParam("status"); got != want {
		return time.Time{}, 0, fmt.Errorf("status %q: only %q can be listed: %w", got, want, ErrInvalid)
	}
	before, err := time.Parse(time.RFC3339Nano, c.QueryParam("before"))
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("before must be an RFC 3339 time, got %q: %w", c.QueryParam("before"), ErrInvalid)
	}
	limit, err := Limit(c, 100, 1000)
	return before, limit, err
}

// ListingQuery is the query Listing reads.
func ListingQuery(status string, before time.Time, limit int) url.Values {
	return url.Values{"status": {status}, "before": {before.UTC().Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(limit)}}
}
