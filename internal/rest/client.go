package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/atrium-bff/atrium/internal/hop"
	"github.com/atrium-bff/atrium/internal/problem"
)

// Client calls one service's HTTP API and turns its problems back into the
// service's sentinel errors.
type Client struct {
	r    *resty.Client
	errs Errors
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
	return &Client{r: r, errs: errs}
}

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
		return out, fmt.Errorf("%s %s: %w", method, path, err)
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
