// Package openapi holds atrium's OpenAPI 3.1 document, serves it with an
// offline docs page, and validates requests against it.
package openapi

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
)

//go:embed openapi.yaml
var specYAML []byte

// docs holds the docs page and its assets, copied by `make docs-assets`
// from the swagger-ui-dist package pinned in package.json.
//
//go:embed docs
var docs embed.FS

// Spec is the loaded document.
type Spec struct {
	// Doc is the parsed document.
	Doc *openapi3.T
	// JSON and YAML are the document as served.
	JSON, YAML []byte

	ops []operation // every documented operation, the most literal first
	// routes maps an echo route (GET /api/v1/products/:id/page) to its
	// documented operation, once found, so that a request to it skips the
	// document's router; a nil route is an undocumented one.
	routes sync.Map
}

// The modes a document is served in. An operation whose x-atrium-modes
// lists modes is in the document of those modes only (the registry's, in
// microservices).
const (
	Monolith      = "monolith"
	Microservices = "microservices"
)

// Load parses and validates the embedded document: the whole of it for
// mode "", or the operations served in mode.
func Load(mode string) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	dropped := mode != "" && only(doc, mode)
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: to JSON: %w", err)
	}
	yml := specYAML // as written, unless operations were left out
	if dropped {
		if yml, err = toYAML(js); err != nil {
			return nil, err
		}
	}
	// Route on paths alone, whatever host the server is reached by. And
	// validate requests with kin-openapi's OpenAPI 3.0 validator: its JSON
	// Schema 2020 validator compiles the schema on every call (about 50µs a
	// request here), and request schemas use only keywords both versions
	// share, which TestRequestSchemasAre30Compatible holds them to.
	// Responses (checked in tests) keep the full 3.1 validation.
	routed := *doc
	routed.Servers = openapi3.Servers{{URL: "/"}}
	routed.OpenAPI = "3.0.3"
	return &Spec{Doc: doc, JSON: js, YAML: yml, ops: operations(&routed)}, nil
}

// only leaves in doc the operations served in mode, and reports whether it
// left any out.
func only(doc *openapi3.T, mode string) bool {
	dropped := false
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			modes, ok := op.Extensions["x-atrium-modes"].([]any)
			if ok && !slices.Contains(modes, any(mode)) {
				item.SetOperation(method, nil)
				dropped = true
			}
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(path)
		}
	}
	return dropped
}

// toYAML writes a JSON document as block-style YAML, its members in their
// order.
func toYAML(js []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil {
		return nil, fmt.Errorf("openapi: to YAML: %w", err)
	}
	var block func(n *yaml.Node)
	block = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		for _, c := range n.Content {
			block(c)
		}
	}
	block(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return nil, fmt.Errorf("openapi: to YAML: %w", err)
	}
	return b, nil
}

// operation is one documented operation, its path split into segments, a
// "{name}" segment matching any one segment.
type operation struct {
	route    *routers.Route
	segments []string
	literal  int // how many segments are not parameters
}

// operations lists the operations of doc, the most literal paths first, so
// that /debug/pprof/profile wins over /debug/pprof/{name}.
func operations(doc *openapi3.T) []operation {
	var ops []operation
	for path, item := range doc.Paths.Map() {
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		literal := 0
		for _, seg := range segs {
			if !strings.HasPrefix(seg, "{") {
				literal++
			}
		}
		for method, op := range item.Operations() {
			ops = append(ops, operation{route: &routers.Route{Spec: doc, Server: doc.Servers[0], Path: path, PathItem: item,
				Method: method, Operation: op}, segments: segs, literal: literal})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return cmp.Compare(b.literal, a.literal) })
	return ops
}

// find returns the operation of method on path (as the client sent it,
// escaped) with its path parameters, or nil. It compares segments: no
// regular expression, no allocation but the parameters', which matters on
// every request through the proxy.
func (s *Spec) find(method, path string) (*routers.Route, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, op := range s.ops {
		if op.route.Method != method || len(op.segments) != len(segs) || !matches(op.segments, segs) {
			continue
		}
		params := map[string]string{}
		for i, seg := range op.segments {
			if name, ok := strings.CutPrefix(seg, "{"); ok {
				v, err := url.PathUnescape(segs[i])
				if err != nil {
					return nil, nil
				}
				params[strings.TrimSuffix(name, "}")] = v
			}
		}
		return op.route, params
	}
	return nil, nil
}

func matches(template, segs []string) bool {
	for i, t := range template {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return false
			}
		} else if t != segs[i] {
			return false
		}
	}
	return true
}

// MustLoad is Load for the embedded document, which tests check.
func MustLoad(mode string) *Spec {
	s, err := Load(mode)
	if err != nil {
		panic(err)
	}
	return s
}

// Routes serves the document and the docs page:
//
//	GET /openapi.json, GET /openapi.yaml, GET /docs, GET /docs/{asset}
func (s *Spec) Routes(e *echo.Echo) {
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.JSON) })
	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", s.YAML) })
	e.GET("/docs", func(c echo.Context) error { return asset(c, "index.html") })
	e.GET("/docs/:asset", func(c echo.Context) error { return asset(c, c.Param("asset")) })
}

func asset(c echo.Context, name string) error {
	if strings.Contains(name, "/") || name == "index.html" && c.Param("asset") != "" {
		return problem.New(http.StatusNotFound, "not_found", "no such asset")
	}
	b, err := docs.ReadFile(path.Join("docs", name))
	if err != nil {
		return problem.Newf(http.StatusNotFound, "not_found", "no docs asset %q", name)
	}
	ct := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".png": "image/png", ".txt": "text/plain; charset=utf-8"}[path.Ext(name)]
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, ct, b)
}

// Validate is middleware that checks a request to a documented operation —
// its path and query parameters, headers and body — against the document,
// and answers a 400 problem naming the offending field. Requests to paths
// the document does not describe pass unchecked (the router answers them).
func (s *Spec) Validate() echo.MiddlewareFunc {
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route, params := s.route(c)
			if route == nil {
				return next(c)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
			if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
				var maxErr *http.MaxBytesError
				if errors.As(err, &maxErr) {
					return echo.ErrStatusRequestEntityTooLarge
				}
				if re := (*openapi3filter.RequestError)(nil); errors.As(err, &re) && re.RequestBody != nil && strings.HasPrefix(re.Reason, "header Content-Type has unexpected value") {
					return rest.NotJSON(req.Header.Get(echo.HeaderContentType))
				}
				return problem.New(http.StatusBadRequest, "invalid", Describe(err))
			}
			return next(c)
		}
	}
}

// route returns the documented operation of c's request and its path
// parameters, or nil. An echo route whose path parameters are the
// operation's is looked up in the document once; others (the proxy's
// wildcard) every time.
func (s *Spec) route(c echo.Context) (*routers.Route, map[string]string) {
	key := routeKey{c.Request().Method, c.Path()}
	if r, ok := s.routes.Load(key); ok {
		route, _ := r.(*routers.Route)
		if route == nil {
			return nil, nil
		}
		params := make(map[string]string, len(c.ParamNames()))
		for i, name := range c.ParamNames() {
			params[name] = c.ParamValues()[i]
		}
		return route, params
	}
	route, params := s.find(c.Request().Method, c.Request().URL.EscapedPath())
	if !strings.Contains(c.Path(), "*") && sameKeys(params, c.ParamNames()) {
		s.routes.Store(key, route)
	}
	return route, params
}

type routeKey struct{ method, path string }

// sameKeys reports whether params has exactly the keys names.
func sameKeys(params map[string]string, names []string) bool {
	if len(params) != len(names) {
		return false
	}
	for _, n := range names {
		if _, ok := params[n]; !ok {
			return false
		}
	}
	return true
}

var english = message.NewPrinter(language.English)

// leaves lists the innermost failures of a JSON Schema validation, each
// with the field it is about.
func leaves(ve *jsonschema.ValidationError, fields bool) []string {
	if len(ve.Causes) > 0 {
		var out []string
		for _, c := range ve.Causes {
			out = append(out, leaves(c, fields)...)
		}
		return out
	}
	msg := strings.ReplaceAll(ve.ErrorKind.LocalizedString(english), "'", `"`)
	if fields && len(ve.InstanceLocation) > 0 {
		return []string{fmt.Sprintf("field %q: %s", strings.Join(ve.InstanceLocation, "."), msg)}
	}
	return []string{msg}
}

// Describe turns a validation error into a sentence that names the field.
func Describe(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return err.Error()
	}
	var where string
	switch {
	case re.Parameter != nil:
		where = fmt.Sprintf("%s parameter %q", re.Parameter.In, re.Parameter.Name)
	case re.RequestBody != nil:
		where = "request body"
	default:
		where = "request"
	}
	var ve *jsonschema.ValidationError
	if errors.As(re.Err, &ve) {
		return where + ": " + strings.Join(leaves(ve, re.Parameter == nil), "; ")
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if ptr := se.JSONPointer(); len(ptr) > 0 && re.Parameter == nil {
			where += fmt.Sprintf(" field %q", strings.Join(ptr, "."))
		}
		return where + ": " + se.Reason
	}
	reason := re.Reason
	if re.Err != nil {
		reason = strings.TrimPrefix(strings.TrimPrefix(re.Err.Error(), reason), ": ")
		if re.Reason != "" {
			reason = re.Reason + ": " + reason
		}
	}
	return where + ": " + strings.TrimSuffix(strings.TrimSpace(reason), ":")
}
