//go:build linux

package main_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestSessionMatrix logs in through nginx in front of three gateway
// replicas, then asks for /api/v1/me nine times with the session cookie.
func TestSessionMatrix(t *testing.T) {
	testkit.Tool(t, "nginx")
	redisAddr := testkit.Redis(t)
	for _, tc := range []struct {
		name, sessions, sticky string
		lost                   bool // the SEED.md failure: memory sessions, round-robin
	}{
		{"memory store, round-robin", "memory", "", true},
		{"memory store, sticky", "memory", "ip", false},
		{"redis store, round-robin", "redis", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []string
			var gws []*proc
			for range 3 {
				a := testkit.FreeAddr(t)
				addrs = append(addrs, a)
				gws = append(gws, start(t, "monolith", "--addr", a, "--sessions", tc.sessions, "--redis-addr", redisAddr))
			}
			base := startNginx(t, addrs, tc.sticky)
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/sessions",
				strings.NewReader(`{"email":"bruno.costa@example.com","password":"atrium-u02"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Requested-With", "e2e")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("login: %v %v", err, resp)
			}
			resp.Body.Close()
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "atrium_session" {
					cookie = c
				}
			}
			if cookie == nil {
				t.Fatal("no session cookie")
			}
			me := func() (ok, lost int) {
				for range 9 {
					req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
					req.AddCookie(cookie)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						ok++
					case 401:
						lost++
					default:
						t.Fatalf("/me: %d", resp.StatusCode)
					}
				}
				return ok, lost
			}
			ok, lost := me()
			if tc.lost && lost == 0 {
				t.Errorf("memory sessions behind round-robin: all %d requests found the session; the other replicas should not know it", ok)
			}
			if !tc.lost && lost != 0 {
				t.Errorf("%d of 9 requests lost the session", lost)
			}
			t.Logf("%s: %d found the session, %d lost it", tc.name, ok, lost)
			if tc.sessions == "redis" {
				// A replica dies: nginx fails over, and the session is in Redis.
				syscall.Kill(gws[0].cmd.Process.Pid, syscall.SIGKILL)
				if ok, lost := me(); lost != 0 || ok != 9 {
					t.Errorf("after a replica died: %d found, %d lost", ok, lost)
				}
			}
			for _, g := range gws {
				if strings.Contains(g.output(), cookie.Value) {
					t.Error("a session token appears in the logs")
				}
			}
		})
	}
}
