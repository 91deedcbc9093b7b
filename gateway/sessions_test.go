package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestSessions(t *testing.T) {
	h := monolith(t)
	wantProblem(t, do(t, h, "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"nope"}`), http.StatusUnauthorized)
	wantProblem(t, do(t, h, "GET", "/api/v1/me", ""), http.StatusUnauthorized)

	w := do(t, h, "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`, "X-Forwarded-Proto", "https")
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"id":"u01"`) {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	cookie := w.Header().Get("Set-Cookie")
	for _, attr := range []string{"atrium_session=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	session := strings.SplitN(cookie, ";", 2)[0]
	for _, path := range []string{"/api/v1/me", "/api/v1/me/dashboard", "/api/v1/me/cart"} {
		if w := do(t, h, "GET", path, "", "Cookie", session); w.Code != 200 || !strings.Contains(w.Body.String(), "u01") {
			t.Errorf("%s with the session: %d %.200s", path, w.Code, w.Body)
		}
	}
	if w := do(t, h, "DELETE", "/api/v1/sessions", "", "Cookie", session); w.Code != http.StatusNoContent || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d, cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	wantProblem(t, do(t, h, "GET", "/api/v1/me", "", "Cookie", session), http.StatusUnauthorized)
}

func TestUserRoutesNeedTheirSessionOrTheAdminToken(t *testing.T) {
	h := monolith(t)
	w := do(t, h, "POST", "/api/v1/sessions", `{"email":"bruno.costa@example.com","password":"atrium-u02"}`)
	u02 := strings.SplitN(w.Header().Get("Set-Cookie"), ";", 2)[0]
	wantProblem(t, do(t, h, "GET", "/api/v1/users/u02/cart", ""), http.StatusUnauthorized)
	wantProblem(t, do(t, h, "GET", "/api/v1/users/u01/cart", "", "Cookie", u02), http.StatusForbidden)
	wantProblem(t, do(t, h, "GET", "/api/v1/users/u01/cart", "", "Authorization", "Bearer wrong"), http.StatusForbidden)
	for _, hdr := range [][]string{{"Cookie", u02}, {"Authorization", "Bearer " + token}} {
		if w := do(t, h, "POST", "/api/v1/users/u02/cart/items", `{"product_id":"p002","quantity":1}`, hdr...); w.Code != 200 {
			t.Errorf("as %s: %d %s", hdr[0], w.Code, w.Body)
		}
	}
	if w := do(t, h, "GET", "/api/v1/me/cart", "", "Cookie", u02); w.Code != 200 || !strings.Contains(w.Body.String(), `"quantity":2`) {
		t.Errorf("/me/cart after two adds: %d %s", w.Code, w.Body)
	}
}

func TestCheckoutActsForItsSessionOrTheAdminToken(t *testing.T) {
	h := monolith(t)
	w := do(t, h, "POST", "/api/v1/sessions", `{"email":"bruno.costa@example.com","password":"atrium-u02"}`)
	u02 := strings.SplitN(w.Header().Get("Set-Cookie"), ";", 2)[0]
	for _, u := range []string{"u01", "u02"} {
		if w := do(t, h, "POST", "/api/v1/users/"+u+"/cart/items", `{"product_id":"p002","quantity":1}`, "Authorization", "Bearer "+token); w.Code != 200 {
			t.Fatalf("fill %s's cart: %d %s", u, w.Code, w.Body)
		}
	}
	// No one may check out another user's cart, nor anyone's anonymously.
	wantProblem(t, do(t, h, "POST", "/api/v1/checkout", `{"user_id":"u01"}`), http.StatusUnauthorized)
	wantProblem(t, do(t, h, "POST", "/api/v1/checkout", `{"user_id":"u01"}`, "Cookie", u02), http.StatusForbidden)
	wantProblem(t, do(t, h, "POST", "/api/v1/users/u01/checkout", "", "Cookie", u02), http.StatusForbidden)
	wantProblem(t, do(t, h, "POST", "/api/v1/checkout", `{"user_id":"u01"}`, "Authorization", "Bearer wrong"), http.StatusForbidden)
	wantProblem(t, do(t, h, "POST", "/api/v1/checkout", "", "Authorization", "Bearer "+token), http.StatusBadRequest)
	// The session checks out its own cart, with or without naming itself;
	// the admin token checks out the user it names.
	for _, tc := range []struct {
		path, body, key string
		header          []string
		user            string
	}{
		{"/api/v1/me/checkout", "", "me-1", []string{"Cookie", u02}, "u02"},
		{"/api/v1/checkout", "", "me-1", []string{"Cookie", u02}, "u02"}, // the same key replays
		{"/api/v1/checkout", `{"user_id":"u01"}`, "admin-1", []string{"Authorization", "Bearer " + token}, "u01"},
	} {
		w := do(t, h, "POST", tc.path, tc.body, append([]string{"Idempotency-Key", tc.key}, tc.header...)...)
		if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"user_id":"`+tc.user+`"`) {
			t.Errorf("POST %s %s as %s: %d %.300s", tc.path, tc.body, tc.header[0], w.Code, w.Body)
		}
	}
}
