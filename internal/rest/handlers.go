package rest

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ByParam handles a route whose answer is get's result for the path
// parameter name, checked with valid first.
func ByParam[T any](name string, valid func(string) bool, get func(context.Context, string) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := Param(c, name, valid)
		if err != nil {
			return err
		}
		v, err := get(c.Request().Context(), id)
		return Reply(c, http.StatusOK, v, err)
	}
}

// ByIDs handles a batch read: the ids come from the query parameter "ids".
func ByIDs[T any](valid func(string) bool, get func(context.Context, []string) ([]T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		ids, err := IDs(c, "ids", valid)
		if err != nil {
			return err
		}
		v, err := get(c.Request().Context(), ids)
		return Reply(c, http.StatusOK, v, err)
	}
}

// WithBody handles a route that decodes a JSON body into a Req and answers
// call's result with status.
func WithBody[Req, T any](status int, call func(echo.Context, Req) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req Req
		if err := Bind(c, &req); err != nil {
			return err
		}
		v, err := call(c, req)
		return Reply(c, status, v, err)
	}
}

// Reply answers v as JSON with status, or returns err.
func Reply[T any](c echo.Context, status int, v T, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(status, v)
}

// ByParamLimit is ByParam for reads that also take "limit" in [1, max],
// def when absent.
func ByParamLimit[T any](name string, valid func(string) bool, def, max int, get func(context.Context, string, int) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit, err := Limit(c, def, max)
		if err != nil {
			return err
		}
		id, err := Param(c, name, valid)
		if err != nil {
			return err
		}
		v, err := get(c.Request().Context(), id, limit)
		return Reply(c, http.StatusOK, v, err)
	}
}
