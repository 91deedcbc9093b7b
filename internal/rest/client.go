package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
)

// Client calls one service's HTTP API and turns its problems back into the
// service's sentinel errors.
//
// It is plain net/http, not resty: every downstream call of a composite and
// of the saga goes through it, and a profile of the gateway at capacity
// (docs/architecture.md, "The hot path") put resty's own work — its request
// and response objects, middleware hooks and buffering — at 15% of the
// gateway's CPU, for nothing these calls need. The clients of the edges,
// called a few times a second (the registry agent, the faults API), keep
// resty.
type Client struct {
	hc      *http.Client
	base    string
	header  http.Header
	errs    Errors
	service string // the host of baseURL, to name in errors
}

// Option configures a Client.
type Option func(*Client)

// WithTransport sends requests through rt, for example a balancing transport
// that resolves a service name to one of its instances. If not given,
// http.DefaultTransport is used.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) { c.hc = &http.Client{Transport: rt} }
}

// WithHeader sends a header with every request.
func WithHeader(key, value string) Option {
	return func(c *Client) { c.header.Set(key, value) }
}

// NewClient returns a client for the service at baseURL (such as
// "http://127.0.0.1:9001" or, behind a balancing transport, "http://catalog").
func NewClient(baseURL string, errs Errors, opts ...Option) *Client {
	c := &Client{hc: http.DefaultClient, base: strings.TrimSuffix(baseURL, "/"), header: http.Header{"Accept": {"application/json"}},
		errs: errs, service: baseURL}
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		c.service = u.Host
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// UnreachableError is a call that got no answer from its service. Its
// message says what happened in words a client may read (it travels into
// problems and _meta); Err, with the addresses and paths, is for errors.Is
// and the logs.
type UnreachableError struct {
	Service string
	Err     error
}

func (e *UnreachableError) Error() string {
	var what string
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		what = "did not answer in time"
	case errors.Is(e.Err, context.Canceled):
		what = "call cancelled"
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		what = "could not be reached (connection refused)"
	case errors.Is(e.Err, syscall.ECONNRESET), errors.Is(e.Err, io.EOF), errors.Is(e.Err, io.ErrUnexpectedEOF):
		what = "closed the connection without an answer"
	case errors.Is(e.Err, hop.ErrNoInstance):
		what = "has no live instance"
	default:
		what = "could not be reached"
	}
	return e.Service + " " + what
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Get calls GET path with the query and decodes the JSON answer into a T.
func Get[T any](ctx context.Context, c *Client, path string, query url.Values) (T, error) {
	return do[T](ctx, c, http.MethodGet, path, query, nil)
}

// GetBatch calls GET path with the ids joined in the query parameter param,
// in chunks of at most MaxBatch ids, and concatenates the answers. No ids make
// no call.
func GetBatch[T any](ctx context.Context, c *Client, path, param string, ids []string) ([]T, error) {
	out := make([]T, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), MaxBatch)
		part, err := Get[[]T](ctx, c, path, url.Values{param: {strings.Join(ids[:n], ",")}})
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
		ids = ids[n:]
	}
	return out, nil
}

// Send calls method on path with body (nil for none) encoded as JSON and
// decodes the JSON answer into a T. A 204 leaves T at its zero value.
func Send[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	return do[T](ctx, c, method, path, nil, body)
}

func do[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (T, error) {
	var out T
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return out, fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b) // NewRequest sets GetBody: a refused request can be sent again
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	if d, ok := ctx.Deadline(); ok {
		hop.SetBudget(req.Header, time.Until(d))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return out, &UnreachableError{Service: c.service, Err: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is used again
		resp.Body.Close()
	}()
	if resp.StatusCode >= http.StatusBadRequest {
		p := &problem.Problem{}
		if derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(p); derr != nil || p.Status == 0 {
			p = problem.New(resp.StatusCode, "", http.StatusText(resp.StatusCode))
		}
		return out, c.errs.FromProblem(p)
	}
	if resp.StatusCode == http.StatusNoContent {
		return out, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, &StatusError{Status: http.StatusBadGateway, Detail: c.service + " answered with something that is not the JSON it should be"}
	}
	return out, nil
}
