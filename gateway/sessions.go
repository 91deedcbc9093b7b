package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/gateway/session"
	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/rest"
	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/orchestration/composite"
)

// sessionRoutes serves logging in and out and the session's own user
// under g, the /api/v1 group:
//
//	POST   /sessions        {"email": "...", "password": "..."}: sets the session cookie
//	DELETE /sessions        ends the session
//	GET    /me, and the user routes (dashboard, cart) under /me
func sessionRoutes(g *echo.Group, store session.Store, comp *composite.Composer, limits Limits, logger *slog.Logger) {
	g.POST("/sessions", func(c echo.Context) error {
		var cr struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		}
		if err := rest.Bind(c, &cr); err != nil {
			return err
		}
		if err := loginLimits(c, limits, cr.Email, logger); err != nil {
			return err
		}
		u, err := comp.Authenticate(c.Request().Context(), cr.Email, cr.Password)
		if err != nil {
			return err
		}
		token, err := store.Create(c.Request().Context(), u.ID)
		if err != nil {
			return err
		}
		c.SetCookie(sessionCookie(c, token, 0))
		return c.JSON(http.StatusCreated, u)
	})
	g.DELETE("/sessions", func(c echo.Context) error {
		if ck, err := c.Cookie(session.Cookie); err == nil {
			if err := store.Delete(c.Request().Context(), ck.Value); err != nil {
				return err
			}
		}
		c.SetCookie(sessionCookie(c, "", -1))
		return c.NoContent(http.StatusNoContent)
	})
	me := g.Group("/me", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			user, err := sessionUser(c, store)
			if err != nil {
				return err
			}
			c.Set(userKey, user)
			return next(c)
		}
	})
	me.GET("", func(c echo.Context) error {
		u, err := comp.User(c.Request().Context(), c.Get(userKey).(string))
		return rest.Reply(c, http.StatusOK, u, err)
	})
	userRoutes(me, comp, func(c echo.Context) (string, error) { return c.Get(userKey).(string), nil })
}

// sessionUser returns the user of the request's session.
func sessionUser(c echo.Context, store session.Store) (string, error) {
	ck, err := c.Cookie(session.Cookie)
	if err != nil {
		return "", session.ErrNoSession
	}
	return store.User(c.Request().Context(), ck.Value)
}

// ErrNotYourUser reports a session acting for another user.
var ErrNotYourUser = problem.New(http.StatusForbidden, "forbidden", "this session may only act for its own user")

// actingUser returns who a request acts for, given the user it claims
// (from the path or the body; "" for none): with the admin token, the
// claimed user; otherwise the user of its session, who may claim only
// itself.
func actingUser(token string, store session.Store) actor {
	return func(c echo.Context, claimed string) (string, error) {
		if token != "" && c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			if err := server.CheckToken(c, token); err != nil {
				return "", err
			}
			if claimed == "" {
				return "", problem.New(http.StatusBadRequest, "invalid", "with the admin token, name the user (user_id)")
			}
			return claimed, nil
		}
		if store == nil {
			return "", session.ErrNoSession
		}
		user, err := sessionUser(c, store)
		if err != nil {
			return "", err
		}
		if claimed != "" && claimed != user {
			return "", ErrNotYourUser
		}
		return user, nil
	}
}

const userKey = "atrium.user"

// sessionCookie is the session cookie: HttpOnly, SameSite=Lax, and Secure
// when the client reached us over TLS (directly or through a proxy that
// says so). maxAge -1 deletes it.
func sessionCookie(c echo.Context, token string, maxAge int) *http.Cookie {
	r := c.Request()
	ck := &http.Cookie{Name: session.Cookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", MaxAge: maxAge}
	if maxAge < 0 {
		ck.Expires = time.Unix(0, 0)
	}
	return ck
}
