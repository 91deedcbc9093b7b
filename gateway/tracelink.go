package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/atrium-bff/atrium/internal/problem"
	"github.com/atrium-bff/atrium/internal/server"
)

// TraceLinkTTL is how long a trace link opens its trace.
const TraceLinkTTL = 10 * time.Minute

// traceLink is the value of a link's ?link=: until when it opens trace
// id, and a MAC of both under the admin token. It opens that trace only,
// to anyone who has it, until then: a browser needs no header.
func traceLink(secret, id string, until time.Time) string {
	exp := strconv.FormatInt(until.Unix(), 10)
	return exp + "." + traceMAC(secret, id, exp)
}

func traceMAC(secret, id, exp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("atrium trace link\x00" + id + "\x00" + exp))
	return hex.EncodeToString(mac.Sum(nil))
}

// validTraceLink reports whether link opens trace id at now.
func validTraceLink(secret, id, link string, now time.Time) bool {
	exp, mac, ok := strings.Cut(link, ".")
	until, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || secret == "" || now.Unix() > until {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(traceMAC(secret, id, exp)))
}

// traceAuth admits a request to the traces API with the admin token, or a
// request for one trace with a link to it (GET /admin/traces/{id}/link
// makes one).
func traceAuth(secret string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			link := c.QueryParam("link")
			if link == "" || c.Param("id") == "" {
				return server.RequireToken(secret)(next)(c)
			}
			if !validTraceLink(secret, c.Param("id"), link, time.Now()) {
				return problem.New(http.StatusForbidden, "forbidden", "this trace link is not valid for this trace, or has expired: ask GET /admin/traces/{id}/link for a new one")
			}
			return next(c)
		}
	}
}

// traceLinkRoute serves GET /admin/traces/{id}/link on the admin group.
func traceLinkRoute(admin *echo.Group, secret string) {
	admin.GET("/traces/:id/link", func(c echo.Context) error {
		id := c.Param("id")
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			return problem.Newf(http.StatusBadRequest, "invalid", "trace id %q is not 32 lowercase hex digits", id)
		}
		until := time.Now().Add(TraceLinkTTL)
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // the link's & as it is, for a person to copy
		err := enc.Encode(struct {
			URL     string `json:"url"`
			Expires string `json:"expires"`
		}{fmt.Sprintf("/admin/traces/%s?view=html&link=%s", id, traceLink(secret, id, until)), until.UTC().Format(time.RFC3339)})
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b.Bytes())
	})
}
