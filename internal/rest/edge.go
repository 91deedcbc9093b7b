package rest

import (
	"context"
	"net/url"

	"github.com/go-resty/resty/v2"

	"github.com/atrium-bff/atrium/internal/problem"
)

// Edge is a client of an API that is called now and then — a registry, an
// admin API — with resty, the project's client library: there its cost is
// nothing beside the call's. Errors come back as the table's sentinels,
// like Client's.
type Edge struct {
	r       *resty.Client
	errs    Errors
	service string
}

// NewEdge returns an Edge of the API under baseURL that sends token as a
// bearer token ("" for none).
func NewEdge(baseURL string, errs Errors, token string) *Edge {
	r := resty.New().SetBaseURL(baseURL).SetHeader("Accept", "application/json")
	if token != "" {
		r.SetAuthToken(token)
	}
	service := baseURL
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		service = u.Host
	}
	return &Edge{r: r, errs: errs, service: service}
}

// Call calls method on path with query and body (nil for none) and decodes
// the JSON answer into out (nil to ignore it).
func (e *Edge) Call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	req := e.r.R().SetContext(ctx).SetError(&problem.Problem{})
	if out != nil {
		req.SetResult(out)
	}
	if query != nil {
		req.SetQueryParamsFromValues(query)
	}
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return &UnreachableError{Service: e.service, Err: err}
	}
	if resp.IsError() {
		p, _ := resp.Error().(*problem.Problem)
		if p == nil || p.Status == 0 {
			p = problem.New(resp.StatusCode(), "", string(resp.Body()))
		}
		return e.errs.FromProblem(p)
	}
	return nil
}
