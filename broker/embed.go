package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server with JetStream inside this process.
type Server struct {
	ns     *server.Server
	unlock func()
}

// User is an account of an embedded server.
type User struct{ Name, Password string }

// Embed starts a NATS server with JetStream that keeps its streams under
// dir and listens on addr ("127.0.0.1:0" for a free loopback port). It
// admits only users; with none, it refuses to start: a broker open to
// anyone on the machine could be told any event.
func Embed(dir, addr string, users []User) (*Server, error) {
	if len(users) == 0 {
		return nil, errors.New("broker: an embedded server needs at least one user")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", addr, err)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "atrium", Host: host, Port: p, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true, HTTPPort: 0, MaxPayload: 1 << 20,
	}
	for _, u := range users {
		opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password})
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("broker: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		unlock()
		return nil, errors.New("broker: the embedded NATS server did not start within 10s")
	}
	return &Server{ns: ns, unlock: unlock}, nil
}

// URL is where clients reach the server.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.unlock()
}
