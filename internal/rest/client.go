package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
)

// Client calls one service's HTTP API and turns its problems back into the
// service's sentinel errors.
type Client struct {
	r       *resty.Client
	errs    Errors
	service string // the host of baseURL, to name in errors
}

// Option configures a Client.
type Option func(*resty.Client)

// WithTransport sends requests through rt, for example a balancing transport
// that resolves a service name to one of its instances. If not given,
// http.DefaultTransport is used.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *resty.Client) { c.SetTransport(rt) }
}

// NewClient returns a client for the service at baseURL (such as
// "http://127.0.0.1:9001" or, behind a balancing transport, "http://catalog").
func NewClient(baseURL string, errs Errors, opts ...Option) *Client {
	r := resty.New().SetBaseURL(baseURL).SetHeader("Accept", "application/json")
	for _, o := range opts {
		o(r)
	}
	service := baseURL
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		service = u.Host
	}
	return &Client{r: r, errs: errs, service: service}
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
	req := c.r.R().SetContext(ctx).SetResult(&out).SetError(&problem.Problem{})
	if d, ok := ctx.Deadline(); ok {
		req.SetHeader(hop.TimeoutHeader, strconv.FormatInt(max(time.Until(d).Milliseconds(), 1), 10))
	}
	if query != nil {
		req.SetQueryParamsFromValues(query)
	}
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return out, &UnreachableError{Service: c.service, Err: err}
	}
	if resp.IsError() {
		p, _ := resp.Error().(*problem.Problem)
		if p == nil || p.Status == 0 {
			p = problem.New(resp.StatusCode(), "", string(resp.Body()))
		}
		return out, c.errs.FromProblem(p)
	}
	return out, nil
}

// WithHeader sends a header with every request.
func WithHeader(key, value string) Option {
	return func(c *resty.Client) { c.SetHeader(key, value) }
}
