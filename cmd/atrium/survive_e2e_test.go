//go:build linux

package main_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/internal/sqldb"
	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/orchestration/composite"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// answer is what a client was told about a key: status, order and code.
type keyAnswer struct {
	status int
	order  string
	code   string
	step   string
	body   string // without the request's own instance and request id
}

// final reports whether an answer is its key's for good: any answer but a
// service's failure before the checkout did anything (a 5xx at one of the
// reading steps), which is not stored, so that a retry runs again, and a
// run left to recovery (checkout_in_progress).
func (a keyAnswer) final() bool {
	if a.code == "checkout_in_progress" {
		return false
	}
	switch a.step {
	case "lookup_key", "user", "read_cart", "price_lines":
		return a.status < 500
	}
	return true
}

var stamp = regexp.MustCompile(`"(instance|request_id)":"[^"]*",?`)

func clientAnswer(r response) keyAnswer {
	var body struct {
		Order struct{ ID string }
		Code  string
		Step  string
	}
	json.Unmarshal(r.body, &body)
	return keyAnswer{r.status, body.Order.ID, body.Code, body.Step, stamp.ReplaceAllString(string(r.body), "")}
}

// TestCheckoutSurvivesKills runs 200 checkouts over two gateways (two
// `atrium up` sharing their state) while payments fail 30% of their calls
// and orders take 300 ms; it kills one gateway (kill -9) mid-run, and then
// the orders service of the other; it restarts the gateway and lets
// recovery run. Afterwards every key answers its first final answer, byte
// for byte, from either gateway, and the books balance. It runs with the
// state in SQLite (the two on one data directory) and in PostgreSQL (as on
// two machines: a data directory each, one database).
func TestCheckoutSurvivesKills(t *testing.T) {
	testkit.OnEveryDatabase(t, func(t *testing.T, database string) {
		data := [2]string{t.TempDir(), t.TempDir()}
		if database == "" { // SQLite files are shared through one directory
			data[1] = data[0]
		}
		survive(t, data, database)
	})
}

// survive is TestCheckoutSurvivesKills with gateway i in data[i], and the
// state in database when it is not "".
func survive(t *testing.T, data [2]string, database string) {
	// Two gateways share one broker, as they would across machines: a NATS
	// server of its own (an embedded one holds its store in the data
	// directory for one process alone).
	flags := []string{"--saga-lease", "1s", "--recover-every", "300ms", "--nats", testkit.NATS(t, "atrium", "survive"), "--nats-password", "survive"}
	if database != "" {
		flags = append(flags, "--database", database)
	}
	gw := []*proc{startIn(t, data[0], append([]string{"up"}, flags...)...), startIn(t, data[1], append([]string{"up"}, flags...)...)}
	var all []string
	for i := 1; i <= 60; i++ {
		all = append(all, fmt.Sprintf("p%03d", i))
	}
	initial := gw[1].stock(t, all)
	sort.Slice(all, func(i, j int) bool { return initial[all[i]].Available > initial[all[j]].Available })
	products := all[:10]
	for _, p := range gw {
		p.setFaults(t, "payments", `{"error_rate":0.3}`)
		p.setFaults(t, "orders", `{"latency_ms":300}`)
	}

	const users, perUser = 19, 10 // and u20 probes the orders restart
	var (
		mu    sync.Mutex
		first = map[string]keyAnswer{} // the first final answer each key got
		tried []string
		done  atomic.Int32
		aDead atomic.Bool
	)
	killA := make(chan struct{})
	var wg sync.WaitGroup
	for u := 1; u <= users; u++ {
		wg.Go(func() {
			user := fmt.Sprintf("u%02d", u)
			for i := range perUser {
				p := gw[(u+i)%2]
				if aDead.Load() {
					p = gw[1]
				}
				gw[1].do(t, "DELETE", "/api/v1/users/"+user+"/cart", "")
				item := fmt.Sprintf(`{"product_id":%q,"quantity":1}`, products[(u+i)%len(products)])
				gw[1].do(t, "POST", "/api/v1/users/"+user+"/cart/items", item)
				key := fmt.Sprintf("survive-%s-%d", user, i)
				mu.Lock()
				tried = append(tried, key)
				mu.Unlock()
				r, err := p.try("POST", "/api/v1/checkout", fmt.Sprintf(`{"user_id":%q}`, user), "Idempotency-Key", key)
				if err == nil { // a gateway killed mid-request leaves the key unanswered
					mu.Lock()
					first[key] = clientAnswer(r)
					mu.Unlock()
				}
				if done.Add(1) == 60 {
					close(killA)
				}
			}
		})
	}

	// A third of the way in, kill -9 the first gateway (its services die
	// with it); halfway, kill -9 the other's orders service.
	<-killA
	aDead.Store(true)
	gw[0].Kill()
	for done.Load() < 100 {
		time.Sleep(20 * time.Millisecond)
	}
	// From here the probe's checkouts must get through on orders alone:
	// payments stops failing (at 30 %, with its breaker's 5 s cooldown and
	// three probes to close it, it held the probe past 20 s about one run
	// in five).
	gw[1].setFaults(t, "payments", "")
	old := gw[1].instances(t, "orders")
	pid, _ := strconv.Atoi(old[0].Meta["pid"])
	syscall.Kill(pid, syscall.SIGKILL)
	// u20 checks out on the surviving gateway until one checkout goes through
	// the restarted orders service: the time from its registration to that
	// success is how fast the gateway heals.
	var (
		restarted time.Time
		last      response
	)
	for n := 0; ; n++ {
		if time.Since(restarted) > 20*time.Second && !restarted.IsZero() || n > 2000 {
			t.Fatalf("no checkout succeeded within 20 s of orders' restart (registered: %v); the last answered %d %s",
				!restarted.IsZero(), last.status, last.body)
		}
		if restarted.IsZero() && slices.ContainsFunc(gw[1].instances(t, "orders"), func(i instance) bool { return i.ID != old[0].ID }) {
			restarted = time.Now() // the new instance has registered
		}
		gw[1].do(t, "POST", "/api/v1/users/u20/cart/items", fmt.Sprintf(`{"product_id":%q,"quantity":1}`, products[n%len(products)]))
		key := fmt.Sprintf("survive-u20-%d", n)
		r := gw[1].do(t, "POST", "/api/v1/checkout", `{"user_id":"u20"}`, "Idempotency-Key", key)
		last = r
		answer := clientAnswer(r)
		mu.Lock()
		tried = append(tried, key)
		first[key] = answer
		mu.Unlock()
		// What this proves is that the restarted instance healed orders'
		// breaker at once, rather than after its 5 s cooldown: once the new
		// instance is registered, no checkout finds that breaker open. (Other
		// breakers may open meanwhile: payments fails 30% of its calls.)
		if !restarted.IsZero() && time.Since(restarted) > 500*time.Millisecond && answer.code == "source_circuit_open" &&
			(answer.step == composite.StepOrder || answer.step == composite.StepLookup) {
			t.Fatalf("%v after the new orders instance registered, orders' breaker was still open: %s", time.Since(restarted), r.body)
		}
		if r.status == http.StatusCreated && !restarted.IsZero() {
			t.Logf("orders restarted; the first checkout through it succeeded %v later", time.Since(restarted))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()

	// Restart the killed gateway on the same data; recovery finishes every run.
	gw[0] = startIn(t, data[0], append([]string{"up"}, flags...)...)
	for _, p := range gw {
		p.setFaults(t, "payments", "")
		p.setFaults(t, "orders", "")
	}
	recovered := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var reps [2]struct {
			Unfinished int
			Recovered  map[string]int
		}
		for i, p := range gw {
			json.Unmarshal(p.do(t, "GET", "/admin/sagas", "", "Authorization", "Bearer "+adminToken).body, &reps[i])
		}
		if reps[0].Unfinished == 0 {
			recovered = 0
			for _, r := range reps {
				for _, n := range r.Recovered {
					recovered += n
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still unfinished a minute after the restart", reps[0].Unfinished)
		}
	}
	logged := strings.Count(gw[0].output()+gw[1].output(), `"msg":"saga recovered"`)
	t.Logf("%d runs recovered after the kills (%d log lines)", recovered, logged)
	if recovered == 0 || logged < recovered {
		t.Errorf("%d runs recovered, %d logged: the kill left no run unfinished, or recovery said nothing", recovered, logged)
	}

	// Every key answers the same on both gateways, and as it first did.
	answers := map[string]keyAnswer{}
	for _, key := range tried {
		user := strings.Split(key, "-")[1]
		var got [2]keyAnswer
		for i, p := range gw {
			got[i] = clientAnswer(p.do(t, "POST", "/api/v1/checkout", fmt.Sprintf(`{"user_id":%q}`, user), "Idempotency-Key", key))
		}
		if got[0] != got[1] {
			t.Errorf("key %s: the gateways answer %d %s and %d %s", key, got[0].status, got[0].body, got[1].status, got[1].body)
		}
		if f, ok := first[key]; ok && f.final() && f != got[0] {
			t.Errorf("key %s first answered %d %s, now %d %s", key, f.status, f.body, got[0].status, got[0].body)
		}
		answers[key] = got[0]
	}
	gw[1].checkBooks(t, products, initial, answers)
	if t.Failed() {
		dumpRuns(t, sqldb.Place(data[0], database, "sagas"))
	}
}

// dumpRuns logs the runs of the saga log at where.
func dumpRuns(t *testing.T, where string) {
	driver, dsn := "sqlite", "file:"+where
	if sqldb.IsPostgres(where) {
		driver, dsn = "pgx", where
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Log(err)
		return
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, owner, done, status, run FROM runs ORDER BY created_at`)
	if err != nil {
		t.Log(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, owner, run string
		var done, status int
		rows.Scan(&id, &owner, &done, &status, &run)
		t.Logf("run %s owner %s done %d status %d %s", id, owner, done, status, run)
	}
}

// checkBooks checks that every succeeded charge has exactly one order,
// every order's stock is sold and no committed reservation lacks an
// order, no hold is left, and stock is conserved.
func (p *proc) checkBooks(t *testing.T, products []string, initial map[string]stock, answers map[string]keyAnswer) {
	t.Helper()
	var orders []order
	for u := 1; u <= 20; u++ {
		var list []order
		r := p.do(t, "GET", fmt.Sprintf("/services/orders/users/u%02d/orders?limit=50", u), "")
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatalf("orders of u%02d: %d %s", u, r.status, r.body)
		}
		orders = append(orders, list...)
	}
	byPayment, byReservation, sold := map[string]string{}, map[string]string{}, map[string]int{}
	for _, o := range orders {
		if other, dup := byPayment[o.PaymentID]; dup {
			t.Errorf("charge %s pays for orders %s and %s", o.PaymentID, other, o.ID)
		}
		byPayment[o.PaymentID], byReservation[o.ReservationID] = o.ID, o.ID
		if a := answers[o.Key]; a.status/100 != 2 || a.order != o.ID {
			t.Errorf("order %s (key %s) exists, but the key answers %d %s", o.ID, o.Key, a.status, a.order)
		}
		for _, l := range o.Lines {
			sold[l.ProductID] += l.Quantity
		}
	}
	for key, a := range answers {
		if a.status/100 == 2 && !hasOrder(orders, a.order) {
			t.Errorf("key %s answers %d with order %q, which does not exist", key, a.status, a.order)
		}
	}
	// Every succeeded charge pays for an order (listed: on PostgreSQL the
	// charges' numbers have gaps), and every order's charge succeeded.
	var charges []struct {
		ID  string
		Key string `json:"idempotency_key"`
	}
	before := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := p.do(t, "GET", "/services/payments/charges?status=succeeded&limit=1000&before="+before, "")
	if err := json.Unmarshal(r.body, &charges); err != nil {
		t.Fatalf("succeeded charges: %d %s", r.status, r.body)
	}
	succeeded := map[string]bool{}
	for _, ch := range charges {
		succeeded[ch.ID] = true
		if byPayment[ch.ID] == "" {
			t.Errorf("charge %s (key %s) succeeded with no order; the key answers %d %s", ch.ID, ch.Key, answers[ch.Key].status, answers[ch.Key].body)
		}
	}
	for id, order := range byPayment {
		if !succeeded[id] {
			t.Errorf("order %s's charge %s has not succeeded", order, id)
		}
	}
	var committed []struct{ ID string }
	r = p.do(t, "GET", "/services/inventory/reservations?status=committed&limit=1000&before="+before, "")
	if err := json.Unmarshal(r.body, &committed); err != nil {
		t.Fatalf("committed reservations: %d %s", r.status, r.body)
	}
	for _, c := range committed {
		if byReservation[c.ID] == "" {
			t.Errorf("reservation %s is committed with no order", c.ID)
		}
	}
	if len(committed) != len(orders) {
		t.Errorf("%d committed reservations for %d orders", len(committed), len(orders))
	}
	final := p.stock(t, products)
	for _, id := range products {
		in, out := initial[id], final[id]
		if out.Sold-in.Sold != sold[id] || out.Reserved != in.Reserved || out.Available+out.Reserved+out.Sold != in.Available+in.Reserved+in.Sold {
			t.Errorf("%s: was %+v, now %+v, orders hold %d", id, in, out, sold[id])
		}
	}
}

func hasOrder(orders []order, id string) bool {
	for _, o := range orders {
		if o.ID == id {
			return true
		}
	}
	return false
}
