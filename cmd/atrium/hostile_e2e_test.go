//go:build linux

package main_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// rawAnswer is what a server said to a request written byte for byte.
type rawAnswer struct {
	status int
	header http.Header
	body   string
	closed bool // the server closed the connection after answering
}

// raw writes req on a new connection to p (with its address filled in for
// HOST) and reads the answer, and whether the server closed the connection
// after it.
func (p *proc) raw(t *testing.T, req string) rawAnswer {
	t.Helper()
	conn := p.dial(t)
	defer conn.Close()
	if _, err := io.WriteString(conn, strings.ReplaceAll(req, "HOST", conn.RemoteAddr().String())); err != nil {
		return rawAnswer{closed: true}
	}
	return readAnswer(t, conn)
}

// dial opens a connection to p that gives up after 20 s.
func (p *proc) dial(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn
}

func readAnswer(t *testing.T, conn net.Conn) rawAnswer {
	t.Helper()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return rawAnswer{closed: true}
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.Close { // it said so
		a.closed = true
		return a
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	a.closed = errors.Is(err, io.EOF)
	return a
}

// books is what the hostile probes must not change: the stock of every
// product, the first charges, every user's orders.
func (p *proc) books(t *testing.T) string {
	t.Helper()
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%03d", i+1)
	}
	var b strings.Builder
	for _, path := range []string{"/services/inventory/stock?ids=" + strings.Join(ids, ","),
		"/services/payments/charges/ch-1", "/services/payments/charges/ch-2"} {
		r := p.do(t, "GET", path, "") // with the admin token
		fmt.Fprintf(&b, "%s %d %s\n", path, r.status, requestID.ReplaceAll(r.body, nil))
	}
	for u := 1; u <= 20; u++ {
		r := p.do(t, "GET", fmt.Sprintf("/services/orders/users/u%02d/orders", u), "")
		fmt.Fprintf(&b, "u%02d %d %s\n", u, r.status, requestID.ReplaceAll(r.body, nil))
	}
	return b.String()
}

// requestID matches a problem's request id, which differs from one read of
// the books to the next.
var requestID = regexp.MustCompile(`"request_id":"[^"]*"`)

// leak matches what an answer must never show: an upstream's address, a
// dial error, a stack.
var leak = regexp.MustCompile(`dial tcp|127\.0\.0\.1:\d|goroutine \d|\.go:\d`)

// TestHostileClients tries the gateway as an attacker would, in both modes:
// every probe is refused with a 4xx (a problem, or net/http's own answer
// to a malformed request, after which it closes the connection); none is a
// 2xx, a 5xx or a leak; and the books are the same afterwards.
func TestHostileClients(t *testing.T) {
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode)
			before := p.books(t)
			cookie := p.login(t, "ada.lovelace@example.com", "atrium-u01")

			type probe struct {
				name, method, path, body string
				header                   []string
				status                   int
			}
			json := []string{"Content-Type", "application/json"}
			probes := []probe{
				// The probes: the services' own writes and personal data, anonymously.
				{"refund someone's payment", "POST", "/services/payments/charges/ch-1/refund", "", nil, 403},
				{"un-sell committed stock", "DELETE", "/services/inventory/reservations/res-1", "", nil, 403},
				{"charge anyone", "POST", "/services/payments/charges", `{"user_id":"u03","amount_cents":5000,"currency":"EUR"}`, json, 403},
				{"forge an order", "POST", "/services/orders/orders", `{"user_id":"u02","lines":[{"product_id":"p001","quantity":1,"price_cents":1}],"currency":"EUR","payment_id":"ch-999","reservation_id":"res-1"}`, json, 403},
				{"every user's e-mail", "GET", "/services/users/users?ids=u01,u02,u03", "", nil, 401},
				{"a profile", "GET", "/services/users/users/u01", "", nil, 401},
				{"the password oracle", "POST", "/services/users/authenticate", `{"email":"ada.lovelace@example.com","password":"x"}`, json, 403},
				{"reserve stock", "POST", "/services/inventory/reservations", `{"lines":[{"product_id":"p001","quantity":1}]}`, json, 403},
				{"change someone's cart", "PUT", "/services/cart/carts/u02/items/p001", `{"quantity":1}`, json, 403},
				{"read someone's cart", "GET", "/services/cart/carts/u02", "", nil, 401},
				// Forged credentials and other users' sessions.
				{"an admin token folded into another header", "GET", "/services/users/users/u01", "", []string{"X-A", "b\r\n Authorization: Bearer " + adminToken}, 401},
				{"a forged admin token", "GET", "/services/users/users/u01", "", []string{"Authorization", "Bearer " + adminToken + "x"}, 403},
				{"the admin token cannot write a service's routes", "POST", "/services/payments/charges/ch-1/refund", "", []string{"Authorization", "Bearer " + adminToken}, 403},
				{"another user's cart by session", "GET", "/services/cart/carts/u02", "", []string{"Cookie", cookie}, 403},
				{"another user's orders by session", "GET", "/services/orders/users/u02/orders", "", []string{"Cookie", cookie}, 403},
				{"another user's composite cart", "GET", "/api/v1/users/u02/cart", "", []string{"Cookie", cookie}, 403},
				{"check out another user", "POST", "/api/v1/checkout", `{"user_id":"u02"}`, append([]string{"Cookie", cookie, "X-Requested-With", "x"}, json...), 403},
				{"a forged registration", "PUT", "/admin/registry/instances/evil-1", `{"id":"evil-1","service":"catalog","address":"169.254.169.254","port":80}`, json, 401},
				{"a registration with a forged token", "PUT", "/admin/registry/instances/evil-1", `{"id":"evil-1","service":"catalog","address":"127.0.0.1","port":80}`, append([]string{"Authorization", "Bearer nope"}, json...), 403},
				{"set faults", "PUT", "/admin/services/catalog/faults", `{"crash":true}`, json, 401},
				// CSRF: the cookie alone does not change anything.
				{"a checkout riding on the cookie", "POST", "/api/v1/me/checkout", "", []string{"Cookie", cookie}, 403},
				{"emptying the cart riding on the cookie", "DELETE", "/api/v1/me/cart", "", []string{"Cookie", cookie}, 403},
				{"a login from another site", "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`, json, 403},
				// Traversal, through the client's own path.
				{"dot segments", "GET", "/services/catalog/../users/users/u01", "", nil, 404},
				{"encoded dot segments", "GET", "/services/catalog/%2e%2e/users/users/u01", "", nil, 404},
				{"an encoded slash", "GET", "/services/catalog/products/..%2f..%2fusers%2fusers%2fu01", "", nil, 400},
				{"an encoded service", "GET", "/services/users%2fusers/u01", "", nil, 404},
				{"a double slash", "GET", "/services//users/users/u01", "", nil, 404},
				{"an api path up to the proxy", "GET", "/api/v1/../../services/users/users/u01", "", nil, 404},
			}
			for _, pr := range probes {
				req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: HOST\r\n", pr.method, pr.path)
				for i := 0; i+1 < len(pr.header); i += 2 {
					req += pr.header[i] + ": " + pr.header[i+1] + "\r\n"
				}
				req += fmt.Sprintf("Connection: close\r\nContent-Length: %d\r\n\r\n%s", len(pr.body), pr.body)
				a := p.raw(t, req)
				checkRefused(t, pr.name, a, pr.status)
			}

			// Smuggling: an ambiguous request is refused by net/http itself, which
			// then closes the connection (an unknown Transfer-Encoding is its 501,
			// as RFC 9112 asks).
			for name, head := range map[string]string{
				"two Content-Lengths":          "POST /api/v1/sessions HTTP/1.1\r\nHost: HOST\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
				"an unknown Transfer-Encoding": "POST /api/v1/sessions HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
				"a space before a colon":       "GET /services/users/users/u01 HTTP/1.1\r\nHost: HOST\r\nAuthorization : Bearer " + adminToken + "\r\n\r\n",
			} {
				if a := p.raw(t, head); !a.closed || a.status != 0 && a.status != 400 && a.status != 501 {
					t.Errorf("smuggling, %s: %d (closed %v) %.200s; want refused and the connection closed", name, a.status, a.closed, a.body)
				}
			}
			// Content-Length and chunked at once: chunked wins (RFC 9112), so what
			// follows the empty chunked body is a request of its own, answered
			// without the first one's credentials. The gateway sends every request
			// it proxies anew, so no service ever reads the client's bytes.
			conn := p.dial(t)
			io.WriteString(conn, "POST /api/v1/users/u01/cart/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminToken+
				"\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /services/users/users/u02 HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(conn)
			if first, err := http.ReadResponse(br, nil); err == nil {
				io.Copy(io.Discard, first.Body)
				if second, err := http.ReadResponse(br, nil); err == nil && second.StatusCode != http.StatusUnauthorized {
					t.Errorf("a request smuggled after a chunked body was answered %d, want 401 (no credentials of its own)", second.StatusCode)
				}
			}
			conn.Close()

			// A huge header, and a huge request id, are refused.
			a := p.raw(t, "GET /api/v1/products/p001/page HTTP/1.1\r\nHost: HOST\r\nX-Pad: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
			if a.status != http.StatusRequestHeaderFieldsTooLarge || !a.closed {
				t.Errorf("a 100 KB header: %d (closed %v), want 431 and a closed connection", a.status, a.closed)
			}
			a = p.raw(t, "GET /api/v1/products/p001/page HTTP/1.1\r\nHost: HOST\r\nX-Request-Id: "+strings.Repeat("a", 1<<20)+"\r\n\r\n")
			if a.status != http.StatusRequestHeaderFieldsTooLarge || !a.closed {
				t.Errorf("a 1 MB request id: %d, want 431 and a closed connection", a.status)
			}
			long := strings.Repeat("r", 1000)
			r := p.do(t, "GET", "/services/catalog/products/p001", "", "X-Request-Id", long)
			if got := r.header.Get("X-Request-Id"); r.status != 200 || got == long || len(got) > 128 || strings.Contains(p.output(), long) {
				t.Errorf("a 1 KB request id was taken: answered %.40q…, logged %v", got, strings.Contains(p.output(), long))
			}
			if v := r.header.Values("X-Request-Id"); len(v) != 1 {
				t.Errorf("a proxied answer carries X-Request-Id %d times", len(v))
			}

			// Expect: 100-continue through the proxy keeps the real status.
			a = p.expectContinue(t, "GET /services/catalog/products/p999 HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", "{}")
			if a.status != http.StatusNotFound || !strings.Contains(a.body, "product_not_found") {
				t.Errorf("Expect: 100-continue through the proxy: %d %.200s, want the service's 404", a.status, a.body)
			}

			if after := p.books(t); after != before {
				t.Errorf("the books changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// checkRefused checks that a probe was refused with status, as a problem,
// showing nothing of the inside.
func checkRefused(t *testing.T, name string, a rawAnswer, status int) {
	t.Helper()
	switch {
	case a.status != status:
		t.Errorf("%s: %d %.200s, want %d", name, a.status, a.body, status)
	case a.header.Get("Content-Type") != "application/problem+json":
		t.Errorf("%s: a %d that is not a problem: %s", name, a.status, a.header.Get("Content-Type"))
	case leak.MatchString(a.body):
		t.Errorf("%s: the answer shows the inside: %s", name, a.body)
	}
}

// expectContinue writes head, then body when the gateway asks for it with
// a 100 Continue, and reads the final answer.
func (p *proc) expectContinue(t *testing.T, head, body string) rawAnswer {
	t.Helper()
	conn := p.dial(t)
	defer conn.Close()
	io.WriteString(conn, strings.ReplaceAll(head, "HOST", conn.RemoteAddr().String()))
	br := bufio.NewReader(conn)
	if line, err := br.Peek(12); err == nil && string(line) == "HTTP/1.1 100" { // the gateway asks for the body
		for l := ""; l != "\r\n"; {
			if l, err = br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		io.WriteString(conn, body)
	} // else it answered without reading the body, which a server may do
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// login logs in and returns the session cookie.
func (p *proc) login(t *testing.T, email, password string) string {
	t.Helper()
	r := p.do(t, "POST", "/api/v1/sessions", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if r.status != http.StatusCreated {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	return strings.Split(r.header.Get("Set-Cookie"), ";")[0]
}

// TestSlowClientsAreCutOff sends request bodies a byte at a time on many
// connections: the server closes each once the read timeout has passed.
func TestSlowClientsAreCutOff(t *testing.T) {
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode, "--read-timeout", "2s")
			host := strings.TrimPrefix(p.base, "http://")
			const conns = 50
			var wg sync.WaitGroup
			cut := make(chan time.Duration, conns)
			for range conns {
				wg.Go(func() {
					conn, err := net.Dial("tcp", host)
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					start := time.Now()
					io.WriteString(conn, "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Requested-With: x\r\nContent-Length: 1000\r\n\r\n")
					for i := 0; i < 40; i++ { // at most 20 s
						if _, err := conn.Write([]byte(" ")); err != nil {
							break
						}
						conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
						if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
							break // answered or closed
						}
					}
					cut <- time.Since(start)
				})
			}
			wg.Wait()
			close(cut)
			for d := range cut {
				if d > 8*time.Second {
					t.Errorf("a slow client was kept %v with a 2 s read timeout", d)
					break
				}
			}
		})
	}
}

// TestRateLimitsAreSharedThroughRedis runs two gateways on one Redis: a
// client's budget is one, whichever gateway it reaches, and so is an
// account's login budget.
func TestRateLimitsAreSharedThroughRedis(t *testing.T) {
	addr := testkit.Redis(t)
	var gws []*proc
	for range 2 {
		gws = append(gws, startEnv(t, []string{"ATRIUM_RATE_LIMIT=1", "ATRIUM_RATE_PER=1h", "ATRIUM_RATE_BURST=6", "ATRIUM_LOGIN_LIMIT=2"},
			"monolith", "--limits", "redis", "--redis-addr", addr))
	}
	get := func(p *proc) *http.Response {
		resp, err := http.Get(p.base + "/api/v1/products/p001/page")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 6 { // the burst, spread over both gateways
		if resp := get(gws[i%2]); resp.StatusCode != 200 {
			t.Fatalf("request %d of a burst of 6: %d", i+1, resp.StatusCode)
		}
	}
	for _, p := range gws {
		resp := get(p)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("past the shared burst, %s answered %d (Retry-After %q), want 429 with Retry-After", p.base, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	guess := func(p *proc) int {
		return p.do(t, "POST", "/api/v1/sessions", `{"email":"bruno.costa@example.com","password":"guess"}`).status
	}
	if got := []int{guess(gws[0]), guess(gws[1]), guess(gws[0])}; got[2] != http.StatusTooManyRequests {
		t.Errorf("three password guesses at one account over two gateways: %v, want the third 429", got)
	}
}
