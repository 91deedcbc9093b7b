//go:build linux

package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/services"
	"github.com/atrium-bff/atrium/services/orders"
	"github.com/atrium-bff/atrium/services/users"
)

type userSearch struct {
	Users      []users.User       `json:"users"`
	Partitions []partition.Answer `json:"partitions"`
	Partial    bool               `json:"partial"`
}

func (p *proc) search(t *testing.T, query string) (int, userSearch) {
	t.Helper()
	r := p.do(t, "GET", "/services/users/users/search?"+query, "")
	var s userSearch
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &s); err != nil {
			t.Fatalf("search %s: %v: %s", query, err, r.body)
		}
	}
	return r.status, s
}

// servedReads is how many reads of its own routes (GETs, not probes) the instance on port has
// answered, from its /metrics.
func servedReads(t *testing.T, port int) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		_, route, _ := strings.Cut(line, `http_route="`)
		route, _, _ = strings.Cut(route, `"`)
		if strings.HasPrefix(line, "http_server_request_duration_seconds_count{") && strings.Contains(line, `http_request_method="GET"`) &&
			route != "" && !slices.Contains([]string{"/healthz", "/readyz", "/metrics"}, route) && !strings.HasPrefix(route, "/admin/") {
			v, _ := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
			n += v
		}
	}
	return n
}

// TestPartitionedUsers runs the users service partitioned by each scheme,
// in both modes: every user is served from its partition, a login and a
// profile go through the partitions, a query spanning partitions is
// answered from the partitions it needs only, and (microservices) each
// instance keeps only its partition's users.
func TestPartitionedUsers(t *testing.T) {
	cases := []struct {
		spec, query string
		want        int      // users the query finds
		asked       []string // the partitions it asks
	}{
		{"range:A-D,E-P,Q-Z", "surname_from=E&surname_to=Q", 10, []string{"E-P", "Q-Z"}},
		{"list:DE+FR+IT+ES,US+BR,*", "country=US,BR", 5, []string{"US+BR"}},
		{"hash:3", "surname_to=D", 4, []string{"0", "1", "2"}},
	}
	for _, tc := range cases {
		scheme, err := partition.Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"monolith", "up"} {
			t.Run(tc.spec+"/"+mode, func(t *testing.T) {
				p := start(t, mode, "--partitions", "users="+tc.spec)
				for i := 1; i <= 20; i++ {
					id := fmt.Sprintf("u%02d", i)
					if r := p.do(t, "GET", "/services/users/users/"+id, ""); r.status != 200 || !strings.Contains(string(r.body), `"id":"`+id+`"`) {
						t.Fatalf("user %s: %d %s", id, r.status, r.body)
					}
				}
				login := p.do(t, "POST", "/api/v1/sessions", `{"email":"elena.rossi@example.com","password":"atrium-u05"}`)
				me := p.do(t, "GET", "/api/v1/me", "", "Cookie", login.header.Get("Set-Cookie"))
				if login.status != 201 || me.status != 200 || !strings.Contains(string(me.body), "Rossi") {
					t.Fatalf("login %d %s; me %d %s", login.status, login.body, me.status, me.body)
				}

				var ports map[string]int // partition → its instance's port
				if mode == "up" {
					ports = usersInstances(t, p, scheme)
				}
				before := map[string]int{}
				for name, port := range ports {
					before[name] = servedReads(t, port)
				}
				status, found := p.search(t, tc.query)
				var asked []string
				for _, a := range found.Partitions {
					asked = append(asked, a.Partition)
				}
				if status != 200 || len(found.Users) != tc.want || found.Partial || !slices.Equal(asked, tc.asked) {
					t.Fatalf("search %s: %d, %d users from %v (partial %v); want %d from %v", tc.query, status, len(found.Users), asked, found.Partial, tc.want, tc.asked)
				}
				for name, port := range ports {
					served, want := servedReads(t, port)-before[name], 0
					if slices.Contains(tc.asked, name) {
						want = 1
					}
					if served != want {
						t.Errorf("partition %s served %d reads for the search, want %d", name, served, want)
					}
				}
			})
		}
	}
}

// usersInstances waits for an instance of every partition of scheme and
// checks that each keeps only its partition's users; it returns their
// ports by partition.
func usersInstances(t *testing.T, p *proc, scheme partition.Scheme) map[string]int {
	t.Helper()
	ports := map[string]int{}
	for deadline := time.Now().Add(20 * time.Second); len(ports) < scheme.Len(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("users partitions with an instance: %v, want %d", ports, scheme.Len())
		}
		for _, inst := range p.instances(t, "users") {
			if inst.Meta[partition.MetaScheme] == scheme.String() {
				ports[inst.Meta[partition.MetaName]] = inst.Port
			}
		}
	}
	held := 0
	for name, port := range ports {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/users/search", port), nil)
		req.Header.Set("Authorization", "Bearer "+services.Token(adminToken, services.Users))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var s userSearch
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("partition %s's own search: %d %v", name, resp.StatusCode, err)
		}
		for _, u := range s.Users {
			if owner, err := scheme.Owner(users.KeyOf(scheme.Kind(), u)); err != nil || scheme.Name(owner) != name {
				t.Errorf("partition %s holds %s (%s), whose partition is %d", name, u.ID, u.Name, owner)
			}
		}
		held += len(s.Users)
	}
	if held != 20 {
		t.Errorf("the partitions hold %d users together, want the 20 of the seed", held)
	}
	return ports
}

// TestAPartitionDownFailsOnlyItsUsers freezes the instance of one of three
// partitions of users until the registry lets it go: the other partitions'
// users log in and are read; its users get a 503 naming their partition,
// as does the readiness check, and a query across partitions is partial.
func TestAPartitionDownFailsOnlyItsUsers(t *testing.T) {
	scheme, _ := partition.Parse("range:A-D,E-P,Q-Z")
	p := start(t, "up", "--partitions", "users="+scheme.String())
	usersInstances(t, p, scheme)
	var pid int
	for _, inst := range p.instances(t, "users") {
		if inst.Meta[partition.MetaName] == "Q-Z" {
			pid, _ = strconv.Atoi(inst.Meta["pid"])
		}
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil { // not killed: its supervisor would start it again
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := p.do(t, "GET", "/readyz", "")
		if r.status == 503 && strings.Contains(string(r.body), "users partition Q-Z") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz %d %s 20s after partition Q-Z froze; want not ready, naming users partition Q-Z", r.status, r.body)
		}
	}
	if r := p.do(t, "GET", "/services/users/users/u01", ""); r.status != 200 { // Lovelace, E-P
		t.Errorf("a user of a partition that runs: %d %s", r.status, r.body)
	}
	if r := p.do(t, "POST", "/api/v1/sessions", `{"email":"ada.lovelace@example.com","password":"atrium-u01"}`); r.status != 201 {
		t.Errorf("a login in a partition that runs: %d %s", r.status, r.body)
	}
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/services/users/users/u05", ""}, // Rossi, Q-Z
		{"POST", "/api/v1/sessions", `{"email":"elena.rossi@example.com","password":"atrium-u05"}`},
	} {
		r := p.do(t, tt.method, tt.path, tt.body)
		if r.status != 503 || !strings.Contains(string(r.body), `"code":"partition_unavailable"`) || !strings.Contains(string(r.body), "partition Q-Z of users") {
			t.Errorf("%s %s, whose partition is down: %d %s; want a 503 naming partition Q-Z", tt.method, tt.path, r.status, r.body)
		}
	}
	status, found := p.search(t, "surname_from=M")
	if status != 200 || !found.Partial || len(found.Users) != 5 || len(found.Partitions) != 2 || found.Partitions[1].Error == "" {
		t.Errorf("a search over E-P and Q-Z: %d %+v; want E-P's 5 users, partial", status, found)
	}
}

// TestPartitionedOrders places checkouts with the orders service
// partitioned by a hash of user ids, in both modes: each order is in its
// user's partition (its id says which), a replayed key finds its order,
// and the recent orders of all partitions merge newest first.
func TestPartitionedOrders(t *testing.T) {
	scheme, _ := partition.Parse("hash:2")
	type order struct {
		ID     string `json:"id"`
		UserID string `json:"user_id"`
	}
	for _, mode := range []string{"monolith", "up"} {
		t.Run(mode, func(t *testing.T) {
			p := start(t, mode, "--partitions", "orders="+scheme.String())
			placed := map[string]string{} // order → user
			for k := 1; k <= 6; k++ {
				user := fmt.Sprintf("u%02d", k)
				if r := p.do(t, "POST", "/api/v1/users/"+user+"/cart/items", `{"product_id":"p001","quantity":1}`); r.status != 200 {
					t.Fatalf("add to cart: %d %s", r.status, r.body)
				}
				var o struct{ Order order }
				for range 2 { // the second is a replay, found by its key
					r := p.do(t, "POST", "/api/v1/checkout", fmt.Sprintf(`{"user_id":%q}`, user), "Idempotency-Key", "part-"+user)
					var again struct{ Order order }
					if r.status != 201 || json.Unmarshal(r.body, &again) != nil || o.Order.ID != "" && again.Order.ID != o.Order.ID {
						t.Fatalf("checkout of %s: %d %s", user, r.status, r.body)
					}
					o = again
				}
				owner, _ := scheme.Owner(user)
				if got := orders.PartOf(o.Order.ID, scheme.Len()); got != owner {
					t.Errorf("%s's order %s is in partition %d; the user's is %d", user, o.Order.ID, got, owner)
				}
				placed[o.Order.ID] = user
			}
			r := p.do(t, "GET", "/services/orders/orders/recent?limit=50", "")
			var rec struct {
				Orders     []order
				Partitions []partition.Answer
				Partial    bool
			}
			if r.status != 200 || json.Unmarshal(r.body, &rec) != nil || rec.Partial || len(rec.Partitions) != 2 || len(rec.Orders) != len(placed) {
				t.Fatalf("recent orders: %d %s", r.status, r.body)
			}
			for _, o := range rec.Orders {
				if placed[o.ID] != o.UserID {
					t.Errorf("recent order %s of %s was not placed by this test", o.ID, o.UserID)
				}
			}
			if mode != "up" {
				return
			}
			for _, inst := range p.instances(t, "orders") {
				i, _ := partition.Index(scheme, inst.Meta[partition.MetaName])
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/orders/recent?limit=50", inst.Port), nil)
				req.Header.Set("Authorization", "Bearer "+services.Token(adminToken, services.Orders))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var own struct{ Orders []order }
				err = json.NewDecoder(resp.Body).Decode(&own)
				resp.Body.Close()
				if err != nil || len(own.Orders) == 0 {
					t.Fatalf("partition %d's own orders: %v, %d", i, err, len(own.Orders))
				}
				for _, o := range own.Orders {
					if owner, _ := scheme.Owner(o.UserID); owner != i {
						t.Errorf("partition %d holds %s's order %s; the user's partition is %d", i, o.UserID, o.ID, owner)
					}
				}
			}
		})
	}
}
