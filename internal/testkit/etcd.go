package testkit

import (
	"net"
	"os/exec"
	"testing"
	"time"
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
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", client[len("http://"):]); err == nil {
			c.Close()
			return client
		}
		if time.Now().After(deadline) {
			t.Fatal("etcd did not listen within 20 s")
		}
	}
}
