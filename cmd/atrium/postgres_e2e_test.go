//go:build linux

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/atrium-bff/atrium/internal/testkit"
	"github.com/atrium-bff/atrium/services"
)

// TestTwoMachinesNeverOversell runs two inventory processes, each with a
// data directory of its own, on one PostgreSQL database — two replicas on
// two machines. It sells a product down to its last three units, then
// forty clients at once each buy one, through both: three are sold, the
// others refused. (Under PostgreSQL's default isolation, READ COMMITTED,
// two that read "1 left" at once both sell it, and this fails.)
func TestTwoMachinesNeverOversell(t *testing.T) {
	database := testkit.Postgres(t).Database(t)
	bearer := "Bearer " + services.Token(adminToken, "inventory")
	var replicas [2]*proc
	for i := range replicas {
		replicas[i] = launch(t, []string{"ATRIUM_SERVICE_TOKEN=" + services.Token(adminToken, "inventory")},
			"service", "--addr", testkit.FreeAddr(t), "--database", database, "--data-dir", t.TempDir(), "inventory")
	}
	type stock struct{ Available, Reserved, Sold int }
	read := func(p *proc) stock {
		var st stock
		if r := p.do(t, "GET", "/stock/p004", "", "Authorization", bearer); r.status != 200 || json.Unmarshal(r.body, &st) != nil {
			t.Fatalf("stock: %d %s", r.status, r.body)
		}
		return st
	}
	reserve := func(p *proc, n int) response {
		r, err := p.try("POST", "/reservations", fmt.Sprintf(`{"lines":[{"product_id":"p004","quantity":%d}]}`, n), "Authorization", bearer)
		if err != nil {
			t.Error(err)
		}
		return r
	}
	all := read(replicas[0])
	const last = 3
	var down struct{ ID string }
	if r := reserve(replicas[0], all.Available-last); r.status != http.StatusCreated || json.Unmarshal(r.body, &down) != nil {
		t.Fatalf("reserve all but %d: %d %s", last, r.status, r.body)
	}
	replicas[1].do(t, "POST", "/reservations/"+down.ID+"/commit", "", "Authorization", bearer)
	before := read(replicas[1])
	var (
		sold, refused atomic.Int32
		wg            sync.WaitGroup
		ready, gate   sync.WaitGroup
	)
	const buyers = 40
	ready.Add(buyers)
	gate.Add(1)
	for i := range buyers {
		p := replicas[i%2]
		wg.Go(func() {
			ready.Done()
			gate.Wait() // all at once
			r, err := p.try("POST", "/reservations", `{"lines":[{"product_id":"p004","quantity":1}]}`, "Authorization", bearer)
			if err != nil {
				t.Error(err)
				return
			}
			switch r.status {
			case http.StatusCreated:
				var res struct{ ID string }
				json.Unmarshal(r.body, &res)
				if c := p.do(t, "POST", "/reservations/"+res.ID+"/commit", "", "Authorization", bearer); c.status != 200 {
					t.Errorf("commit %s: %d %s", res.ID, c.status, c.body)
					return
				}
				sold.Add(1)
			case http.StatusConflict:
				refused.Add(1)
			default:
				t.Errorf("reserve: %d %s", r.status, r.body)
			}
		})
	}
	ready.Wait()
	gate.Done()
	wg.Wait()
	for i, p := range replicas {
		if after := read(p); int(sold.Load()) != before.Available || after.Available != 0 || after.Sold != before.Sold+before.Available {
			t.Errorf("replica %d: %d units in stock, %d sold and %d refused through two replicas; stock now %+v",
				i, before.Available, sold.Load(), refused.Load(), after)
		}
	}
}
