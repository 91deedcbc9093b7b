// Package usershttp carries the users Service over HTTP: NewHandler serves a
// Service, NewClient is a Service that calls one.
package usershttp

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/services/users"
)

var errs = rest.Errors{
	{Err: users.ErrNotFound, Code: "user_not_found"},
	{Err: users.ErrBadCredentials, Code: "bad_credentials"},
	{Err: users.ErrInvalid, Code: "invalid"},
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Surface is who may call each route from outside: profiles hold e-mail
// addresses, and authenticate is a password oracle, so none is public (the
// gateway's /api/v1/sessions and /api/v1/me are the way in).
var Surface = rest.Surface{
	{Method: http.MethodGet, Path: "/users", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/users/search", Access: rest.Internal},
	{Method: http.MethodGet, Path: "/users/:id", Access: rest.Internal},
	{Method: http.MethodPost, Path: "/authenticate", Access: rest.Internal},
}

// NewHandler serves svc:
//
//	GET /users?ids=u01,u02
//	GET  /users/search?surname_from=E&surname_to=Q&country=DE,FR
//	GET  /users/{id}
//	POST /authenticate       {"email": "...", "password": "..."}
func NewHandler(svc users.Service) http.Handler {
	return rest.NewHandler(errs, Surface, func(e *echo.Echo) {
		e.GET("/users", rest.ByIDs(users.ValidID, svc.Users))
		e.GET("/users/search", func(c echo.Context) error {
			q := users.Query{SurnameFrom: c.QueryParam("surname_from"), SurnameTo: c.QueryParam("surname_to")}
			if cs := c.QueryParam("country"); cs != "" {
				q.Countries = strings.Split(cs, ",")
			}
			found, err := svc.Find(c.Request().Context(), q)
			return rest.Reply(c, http.StatusOK, found, err)
		})
		e.GET("/users/:id", rest.ByParam("id", users.ValidID, svc.User))
		e.POST("/authenticate", rest.WithBody(http.StatusOK, func(c echo.Context, cr credentials) (users.User, error) {
			return svc.Authenticate(c.Request().Context(), cr.Email, cr.Password)
		}))
	})
}

type client struct{ c *rest.Client }

// NewClient returns a users.Service that calls the server at baseURL.
func NewClient(baseURL string, opts ...rest.Option) users.Service {
	return client{rest.NewClient(baseURL, errs, opts...)}
}

func (c client) User(ctx context.Context, id string) (users.User, error) {
	return rest.Get[users.User](ctx, c.c, "/users/"+url.PathEscape(id), nil)
}

func (c client) Authenticate(ctx context.Context, email, password string) (users.User, error) {
	return rest.Send[users.User](ctx, c.c, http.MethodPost, "/authenticate", credentials{email, password})
}

func (c client) Users(ctx context.Context, ids []string) ([]users.User, error) {
	return rest.GetBatch[users.User](ctx, c.c, "/users", "ids", ids)
}

func (c client) Find(ctx context.Context, q users.Query) (users.Found, error) {
	v := url.Values{}
	for k, x := range map[string]string{"surname_from": q.SurnameFrom, "surname_to": q.SurnameTo, "country": strings.Join(q.Countries, ",")} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return rest.Get[users.Found](ctx, c.c, "/users/search", v)
}
