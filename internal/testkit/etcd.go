package testkit

import (
	"os/exec"
	"testing"
)

// Etcd runs a real etcd (Debian's etcd-server) as a one-member cluster on
// free loopback ports, its data in a temporary directory, until the test
// ends, and returns its client URL.
func Etcd(t testing.TB) string {
	t.Helper()
	bin := Tool(t, "etcd")
	client, peer := "http://"+FreeAddr(t), "http://"+FreeAddr(t)
	cmd := exec.Command(bin, "--name", "test", "--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--log-level", "error")
	serve(t, cmd)
	listening(t, client[len("http://"):], "etcd")
	return client
}
