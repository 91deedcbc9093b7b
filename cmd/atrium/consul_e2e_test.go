//go:build linux && consul

package main_test

import (
	"testing"

	"github.com/atrium-bff/atrium/internal/testkit"
)

// TestTwoGatewaysShareOneConsul is TestTwoGatewaysShareOneEtcd on a real
// Consul agent (make test-consul).
func TestTwoGatewaysShareOneConsul(t *testing.T) {
	twoGatewaysShare(t, "consul://"+testkit.Consul(t))
}
