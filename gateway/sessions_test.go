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
