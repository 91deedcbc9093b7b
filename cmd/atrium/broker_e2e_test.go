//go:build linux

package main_test

import (
	"testing"
)

// TestDeadLettersAreAnAdminRoute reads the broker's dead letters of a
// running server in both modes, each with its embedded NATS: an empty list
// for the admin, a 401 for anyone else.
func TestDeadLettersAreAnAdminRoute(t *testing.T) {
	for _, mode := range []string{"monolith", "up"} {
		p := start(t, mode)
		if r := p.do(t, "GET", "/admin/events/dead", "", "Authorization", "Bearer "+adminToken); r.status != 200 || string(r.body) != "[]\n" {
			t.Errorf("%s: dead letters: %d %q", mode, r.status, r.body)
		}
		if r := p.do(t, "GET", "/admin/events/dead", ""); r.status != 401 {
			t.Errorf("%s: dead letters without the admin token: %d %s", mode, r.status, r.body)
		}
	}
}
