package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services/cart"
	"github.com/atrium-bff/atrium/services/catalog"
	"github.com/atrium-bff/atrium/services/inventory"
	"github.com/atrium-bff/atrium/services/payments"
	"github.com/atrium-bff/atrium/services/search"
	"github.com/atrium-bff/atrium/services/users"
)

// actor returns the user a request acts for, given the user it claims
// (from its path or body; "" for none), or the error that refuses it.
type actor func(e echo.Context, claimed string) (string, error)

// compositeRoutes adds the composite endpoints of c to g, the /api/v1 group:
//
//	GET    /products?category=&q=&limit=&cursor=
//	GET    /products/{id}/page
//	GET    /search?q=&limit=
//	GET    /users/{id}/dashboard
//	GET    /users/{id}/cart
//	POST   /users/{id}/cart/items                {"product_id":"p001","quantity":1}
//	PATCH  /users/{id}/cart/items/{product_id}   {"quantity":2}
//	DELETE /users/{id}/cart/items/{product_id}
//	DELETE /users/{id}/cart
//	POST   /users/{id}/checkout                  [{"mode":"events"}], Idempotency-Key header
//	POST   /checkout                             {"user_id":"u01"[,"mode":"events"]}, Idempotency-Key header
//	GET    /orders/{id}
//	GET    /orders/{id}/events                   Server-Sent Events
//
// The /users/{id} routes, /checkout and /orders act for the user act admits.
func compositeRoutes(g *echo.Group, c *composite.Composer, act actor) {
	g.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(e echo.Context) error {
			e.Set(startKey, time.Now())
			return next(e)
		}
	})
	g.GET("/products", func(e echo.Context) error {
		limit, err := rest.Limit(e, catalog.DefaultLimit, catalog.MaxLimit)
		if err != nil {
			return err
		}
		f, err := fields(e, composite.ListingParts)
		if err != nil {
			return err
		}
		page, err := c.Products(e.Request().Context(), catalog.ListQuery{
			Category: e.QueryParam("category"), Q: e.QueryParam("q"), Limit: limit, Cursor: e.QueryParam("cursor"),
		}, f)
		if err == nil && page.NextCursor != "" {
			e.Response().Header().Set("Link", nextLink(e.Request().URL, page.NextCursor))
		}
		return publicAnswer(e)(page, err)
	})
	g.GET("/products/:id/page", func(e echo.Context) error {
		id, err := param(e, "id", catalog.ValidID, "p and 3 to 8 digits")
		if err != nil {
			return err
		}
		f, err := fields(e, composite.PageParts)
		if err != nil {
			return err
		}
		return publicAnswer(e)(c.ProductPage(e.Request().Context(), id, f))
	})
	g.GET("/search", func(e echo.Context) error {
		limit, err := rest.Limit(e, search.DefaultLimit, search.MaxLimit)
		if err != nil {
			return err
		}
		return publicAnswer(e)(c.Search(e.Request().Context(), e.QueryParam("q"), limit))
	})
	userRoutes(g.Group("/users/:id"), c, func(e echo.Context) (string, error) {
		id, err := param(e, "id", users.ValidID, "u and 2 to 8 digits")
		if err != nil {
			return "", err
		}
		return act(e, id)
	})
	g.POST("/checkout", func(e echo.Context) error {
		body, err := checkoutBody(e)
		if err != nil {
			return err
		}
		if body.UserID != "" && !users.ValidID(body.UserID) {
			return problem.Newf(http.StatusBadRequest, "invalid", "user_id %q is not a user id (u and 2 to 8 digits)", body.UserID)
		}
		user, err := act(e, body.UserID)
		if err != nil {
			return err
		}
		return serveCheckout(e, c, user, body.Mode)
	})
	orderRoutes(g, c, act)
}

// nextLink is the Link header of a page whose next page starts at cursor:
// the same request, with that cursor (RFC 8288).
func nextLink(u *url.URL, cursor string) string {
	q := u.Query()
	q.Set("cursor", cursor)
	return fmt.Sprintf(`<%s?%s>; rel="next"`, u.Path, q.Encode())
}

// The checkout's modes.
const (
	ModeSaga   = "saga"   // orchestrated: the gateway drives a saga [the default]
	ModeEvents = "events" // choreographed: the services carry out a pending order by events
)

type checkoutRequest struct {
	UserID string `json:"user_id"`
	Mode   string `json:"mode"`
}

// checkoutBody reads a checkout's optional body.
func checkoutBody(e echo.Context) (checkoutRequest, error) {
	var body checkoutRequest
	if e.Request().ContentLength != 0 {
		if err := rest.Bind(e, &body); err != nil {
			return body, err
		}
	}
	if body.Mode != "" && body.Mode != ModeSaga && body.Mode != ModeEvents {
		return body, problem.Newf(http.StatusBadRequest, "invalid", "mode %q: want %q (the orchestrated saga, the default) or %q (choreographed by events)", body.Mode, ModeSaga, ModeEvents)
	}
	return body, nil
}

// serveCheckout checks user's cart out in mode, by the request's
// Idempotency-Key.
func serveCheckout(e echo.Context, c *composite.Composer, user, mode string) error {
	key := e.Request().Header.Get("Idempotency-Key")
	switch {
	case key != "" && !domain.ValidKey(key):
		return problem.New(http.StatusBadRequest, "invalid", "Idempotency-Key must be 1 to 200 printable ASCII characters")
	case strings.HasPrefix(key, composite.ReservedKeyPrefix):
		return problem.Newf(http.StatusBadRequest, "invalid", "an Idempotency-Key may not begin with %q: atrium keeps those for its own", composite.ReservedKeyPrefix)
	case mode == ModeEvents:
		return servePlaceOrder(e, c, user, key)
	}
	ans, err := c.Checkout(e.Request().Context(), user, key)
	if err != nil {
		return err
	}
	h := e.Response().Header()
	if ans.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	if ans.Meta != nil {
		start, _ := e.Get(startKey).(time.Time)
		h.Set("Server-Timing", serverTiming(*ans.Meta, time.Since(start)))
	}
	if ans.Status >= http.StatusBadRequest { // a problem: this request's path and id
		p := restamp(ans.Status, ans.Body, e.Request().URL.Path, h.Get(echo.HeaderXRequestID))
		problem.Write(e.Response(), p)
		return nil
	}
	return e.Blob(ans.Status, echo.MIMEApplicationJSON, ans.Body)
}

// CheckoutAnswer renders a checkout's result or error as its client is
// given it, for composite.Config.Answer: 201 and the placed order, or the
// error's problem, without the request's path and id (restamp adds those to
// each answer given).
func CheckoutAnswer(res composite.Checkout, err error) (int, []byte) {
	if err != nil {
		p := compositeProblem(err)
		if p == nil {
			p = problem.New(http.StatusInternalServerError, "internal", "internal server error")
		}
		b, _ := json.Marshal(p)
		return p.Status, b
	}
	b, _ := json.Marshal(res)
	return http.StatusCreated, b
}

// restamp returns the problem in body (status, as a service or the saga
// log gave it) naming this request's path and id, its members in the
// usual order.
func restamp(status int, body []byte, path, requestID string) *problem.Problem {
	p := problem.New(status, "", "")
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		_ = json.Unmarshal(body, p) // the members it knows
		for _, k := range []string{"type", "title", "status", "detail", "instance", "code", "request_id"} {
			delete(fields, k)
		}
		if len(fields) > 0 {
			p.Ext = make(map[string]any, len(fields))
			for k, v := range fields {
				p.Ext[k] = v
			}
		}
	}
	p.Status, p.Instance, p.RequestID = status, path, requestID
	return p
}

// userRoutes adds a user's dashboard and cart to g, for the user that
// user names (from the path, or from the session):
//
//	GET {g}/dashboard, GET|DELETE {g}/cart, POST {g}/cart/items,
//	PATCH|DELETE {g}/cart/items/{product_id}, POST {g}/checkout
func userRoutes(g *echo.Group, c *composite.Composer, user func(echo.Context) (string, error)) {
	g.POST("/checkout", func(e echo.Context) error {
		body, err := checkoutBody(e)
		if err != nil {
			return err
		}
		id, err := user(e)
		if err != nil {
			return err
		}
		return serveCheckout(e, c, id, body.Mode)
	})
	g.GET("/dashboard", func(e echo.Context) error {
		id, err := user(e)
		if err != nil {
			return err
		}
		f, err := fields(e, composite.DashboardParts)
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.Dashboard(e.Request().Context(), id, f))
	})
	g.GET("/cart", func(e echo.Context) error {
		id, err := user(e)
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.Cart(e.Request().Context(), id))
	})
	g.POST("/cart/items", func(e echo.Context) error {
		var body struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		}
		id, err := user(e)
		if err == nil {
			err = rest.Bind(e, &body)
		}
		if err == nil {
			err = checkItem(body.ProductID, body.Quantity)
		}
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.EditCart(e.Request().Context(), composite.CartEdit{UserID: id, ProductID: body.ProductID, Quantity: body.Quantity, Add: true}))
	})
	g.PATCH("/cart/items/:product_id", func(e echo.Context) error {
		var body struct {
			Quantity int `json:"quantity"`
		}
		id, err := user(e)
		if err == nil {
			err = rest.Bind(e, &body)
		}
		if err == nil {
			err = checkItem(e.Param("product_id"), body.Quantity)
		}
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.EditCart(e.Request().Context(), composite.CartEdit{UserID: id, ProductID: e.Param("product_id"), Quantity: body.Quantity}))
	})
	g.DELETE("/cart/items/:product_id", func(e echo.Context) error {
		id, err := user(e)
		if err != nil {
			return err
		}
		pid, err := param(e, "product_id", catalog.ValidID, "p and 3 to 8 digits")
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.RemoveFromCart(e.Request().Context(), id, pid))
	})
	g.DELETE("/cart", func(e echo.Context) error {
		id, err := user(e)
		if err != nil {
			return err
		}
		return answer(e, http.StatusOK)(c.ClearCart(e.Request().Context(), id))
	})
}

// answer returns what answers a composite's result: the error, or the
// result as JSON with status and a Server-Timing header made from its meta.
func answer(e echo.Context, status int) func(composite.Result, error) error {
	return reply(e, status, false)
}

// publicAnswer is answer for a read that is the same for everyone (the
// product page, the listing, search): shared caches may keep it a few
// seconds, unless it is partial.
func publicAnswer(e echo.Context) func(composite.Result, error) error {
	return reply(e, http.StatusOK, true)
}

// Cache-Control of the composites' answers: a public read may be kept
// PublicMaxAge and served stale while it is fetched again; a user's read
// must be checked again (its ETag makes that cheap); a write or a partial
// answer is not kept.
const (
	PublicMaxAge   = 5 * time.Second
	publicControl  = "public, max-age=5, stale-while-revalidate=30"
	privateControl = "private, no-cache"
	noStore        = "no-store"
)

// reply writes a composite's answer with its Server-Timing, and for a GET
// its weak ETag (over the answer without its _meta, which differs every
// time) and Cache-Control; a GET whose If-None-Match names that ETag is a
// 304 with no body.
func reply(e echo.Context, status int, public bool) func(composite.Result, error) error {
	return func(v composite.Result, err error) error {
		if err != nil {
			return err
		}
		start, _ := e.Get(startKey).(time.Time)
		meta := v.Metadata()
		h := e.Response().Header()
		h.Set("Server-Timing", serverTiming(meta, time.Since(start)))
		body, err := json.Marshal(v)
		if s, ok := v.(composite.Sparse); ok && err == nil {
			body, err = s.Trim(body)
		}
		if err != nil {
			return err
		}
		if m := e.Request().Method; m != http.MethodGet && m != http.MethodHead {
			h.Set(echo.HeaderCacheControl, noStore)
			return e.Blob(status, echo.MIMEApplicationJSON, append(body, '\n'))
		}
		switch {
		case meta.Partial:
			h.Set(echo.HeaderCacheControl, noStore)
		case public:
			h.Set(echo.HeaderCacheControl, publicControl)
		default:
			h.Set(echo.HeaderCacheControl, privateControl)
		}
		tag := etag(body)
		h.Set("ETag", tag)
		if slices.Contains(strings.FieldsFunc(e.Request().Header.Get("If-None-Match"), func(r rune) bool { return r == ',' || r == ' ' }), tag) {
			return e.NoContent(http.StatusNotModified)
		}
		return e.Blob(status, echo.MIMEApplicationJSON, append(body, '\n'))
	}
}

// etag is a weak validator of a composite's JSON: its length and CRC-32C
// (in hardware: tens of nanoseconds a page, where FNV took two
// microseconds) up to its _meta (the timings and instances of this answer,
// not its content). Every gateway computes the same one.
func etag(body []byte) string {
	if i := bytes.LastIndex(body, []byte(`,"_meta":`)); i >= 0 {
		body = body[:i]
	}
	return fmt.Sprintf(`W/"%x-%08x"`, len(body), crc32.Checksum(body, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const startKey = "atrium.start"

// serverTiming renders meta as a Server-Timing header value, so the
// sources' timings show in a browser's developer tools.
func serverTiming(meta orchestration.Meta, total time.Duration) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(meta.Sources)) {
		s := meta.Sources[name]
		b.WriteString(name)
		b.WriteString(";desc=")
		b.WriteString(string(s.Status))
		b.WriteString(";dur=")
		b.WriteString(strconv.FormatFloat(s.DurationMS, 'f', 3, 64))
		b.WriteString(", ")
	}
	b.WriteString("total;dur=")
	b.WriteString(strconv.FormatFloat(float64(total.Microseconds())/1000, 'f', 3, 64))
	return b.String()
}

// fields reads a composite's ?fields= (comma-separated, or repeated): the
// parts of its answer the client wants. Without it, every part.
func fields(e echo.Context, parts *composite.Parts) (composite.Fields, error) {
	list, ok := e.QueryParams()["fields"]
	if !ok {
		return 0, nil
	}
	f, err := parts.Parse(strings.Join(list, ","))
	if err != nil {
		return 0, problem.Newf(http.StatusBadRequest, "invalid", "fields: %v", err)
	}
	return f, nil
}

func param(e echo.Context, name string, valid func(string) bool, want string) (string, error) {
	v := e.Param(name)
	if !valid(v) {
		return "", problem.Newf(http.StatusBadRequest, "invalid", "malformed %s %q: want %s", name, v, want)
	}
	return v, nil
}

func checkItem(productID string, quantity int) error {
	if !catalog.ValidID(productID) {
		return problem.Newf(http.StatusBadRequest, "invalid", "product_id %q is not a product id (p and 3 to 8 digits)", productID)
	}
	if quantity < 1 || quantity > cart.MaxQuantity {
		return problem.Newf(http.StatusBadRequest, "invalid", "quantity must be 1 to %d, got %d", cart.MaxQuantity, quantity)
	}
	return nil
}

// problems names the domain errors a composite can answer with.
var problems = rest.Errors{
	{Err: catalog.ErrNotFound, Code: "product_not_found"},
	{Err: composite.ErrNoSuchProduct, Code: "product_not_found"},
	{Err: users.ErrNotFound, Code: "user_not_found"},
	{Err: users.ErrBadCredentials, Code: "bad_credentials"},
	{Err: cart.ErrNotFound, Code: "item_not_in_cart"},
	{Err: cart.ErrFull, Code: "cart_full"},
	{Err: composite.ErrExceedsStock, Code: "insufficient_stock"},
	{Err: inventory.ErrInsufficientStock, Code: "insufficient_stock"},
	{Err: inventory.ErrNotFound, Code: "not_in_inventory"},
	{Err: payments.ErrDeclined, Code: "payment_declined"},
	{Err: composite.ErrEmptyCart, Code: "cart_empty"},
	{Err: composite.ErrProductGone, Code: "product_gone"},
	{Err: composite.ErrKeyReused, Code: "idempotency_key_reused"},
	{Err: composite.ErrInProgress, Code: "checkout_in_progress"},
}

// compositeProblem maps a composite's error to its problem. A domain answer keeps its
// status (a missing product stays a 404); a failed required source is a 504
// when it timed out, a 503 when its circuit is open, and a 502 otherwise. A
// failed checkout also names its step and what was undone. It returns nil
// for errors that are not a composite's.
func compositeProblem(err error) *problem.Problem {
	p := sourceProblem(err)
	var ce *orchestration.SagaError
	if p != nil && errors.As(err, &ce) {
		p.Detail = ce.Error()
		p.Ext = map[string]any{"step": ce.Step, "compensated": nonNil(ce.Compensated), "pending": nonNil(ce.Pending)}
	}
	return p
}

func sourceProblem(err error) *problem.Problem {
	var se *orchestration.SourceError
	// A 4xx says what the user asked for that cannot be, in the service's
	// words, not which step of the engine said so.
	userWords := func(p *problem.Problem) *problem.Problem {
		if p.Status < 500 && errors.As(err, &se) {
			p.Detail = se.Err.Error()
		}
		return p
	}
	if p := problems.Problem(err); p != nil {
		return userWords(p)
	}
	if k := domain.KindOf(err); k != 0 {
		return userWords(problem.New(k.Status(), k.String(), err.Error()))
	}
	if p, ok := problem.FromCoded(err); ok { // a partition that did not answer
		return p
	}
	status := orchestration.StatusError
	var ce *orchestration.SagaError
	if errors.Is(err, orchestration.ErrInterrupted) {
		return problem.New(http.StatusServiceUnavailable, "checkout_interrupted", err.Error())
	}
	switch {
	case errors.As(err, &se):
		status = se.Status
	case errors.As(err, &ce):
		status = ce.Meta.Sources[ce.Step].Status
	default:
		return nil
	}
	switch status {
	case orchestration.StatusTimeout:
		return problem.New(http.StatusGatewayTimeout, "source_timeout", err.Error())
	case orchestration.StatusCircuitOpen:
		return problem.New(http.StatusServiceUnavailable, "source_circuit_open", err.Error())
	}
	return problem.New(http.StatusBadGateway, "source_failed", err.Error())
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
