// Package loopback finds free ports on the loopback interface, for the
// servers that the tests, atrium-compare and a throw-away PostgreSQL must
// tell their port before they start.
package loopback

import "net"

// FreeAddr returns a loopback address (127.0.0.1:port) with a port that was
// free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
