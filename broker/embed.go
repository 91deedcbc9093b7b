package broker

import (
	"errors"
	"fmt"
	"net"
	"slices"
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
type User struct {
	Name, Password string
	// Publishes, when not nil, makes the user a service's account: it may
	// publish these subjects only (its own events; dead letters besides),
	// consume and follow the streams, and not make, change, purge or
	// delete them. Nil is atrium's own user, which may do anything.
	Publishes []string
}

// servicePermissions are what a service's account may do.
func servicePermissions(publishes []string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: append(slices.Clone(publishes), "$JS.API.>", "$JS.ACK.>", deadPrefix+">"),
			Deny: []string{"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>",
				"$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.STREAM.RESTORE.>", "$JS.API.STREAM.SNAPSHOT.>"},
		},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// Embed starts a NATS server with JetStream that keeps its streams under
// dir and listens on addr ("127.0.0.1:0" for a free loopback port). It
// admits only users; with none, it refuses to start: a broker open to
// anyone on the machine could be told any event. A service's account
// (User.Publishes) cannot tell another service's events.
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
		user := &server.User{Username: u.Name, Password: u.Password}
		if u.Publishes != nil {
			user.Permissions = servicePermissions(u.Publishes)
		}
		opts.Users = append(opts.Users, user)
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
