package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/gateway"
	"github.com/atrium-bff/atrium/partition"
	"github.com/atrium-bff/atrium/process"
	"github.com/atrium-bff/atrium/services"
)

func upCommand() *ffcli.Command {
	var g gatewayFlags
	fs := g.flags("up")
	replicas := fs.String("replicas", "", "instances per service, e.g. catalog=3,inventory=2; default 1 each (env ATRIUM_REPLICAS)")
	serviceProcs := fs.Int("service-gomaxprocs", 0, "cores each service process may use (GOMAXPROCS), as a container quota would; 0: all (env ATRIUM_SERVICE_GOMAXPROCS)")
	return &ffcli.Command{
		Name:       "up",
		ShortUsage: "atrium up [--addr 127.0.0.1:8080] [--replicas name=N,...]",
		ShortHelp:  "run the gateway and every service as its own process (microservices)",
		FlagSet:    fs,
		Options:    envOptions,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("up", args); err != nil {
				return err
			}
			if err := checkRegistry(g.registry); err != nil {
				return err
			}
			counts, err := parseReplicas(*replicas)
			if err != nil {
				return err
			}
			tokenPath := ""
			if g.token == "" {
				g.token = newToken()
				if tokenPath, err = saveToken(g.dataDir, g.token); err != nil {
					return err
				}
			}
			logger := g.logger("up")
			ln, err := net.Listen("tcp", g.addr)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("up: find own binary: %w", err)
			}
			// The broker comes first: the children and the gateway connect to it.
			stopBroker, err := g.policy.embedBroker(g.dataDir, g.token)
			if err != nil {
				return err
			}
			defer stopBroker()
			registryURL := "http://" + loopbackAddr(ln.Addr().(*net.TCPAddr))
			join := registryURL // the services register through the gateway's API, or in the shared etcd
			if r, _ := parseRegistry(g.registry); r.shared() {
				join = g.registry
			}
			// child is the ith replica of service name, or of its partition owns.
			child := func(name, owns string, i int) process.Child {
				user, password := g.policy.natsAccount(g.token, name)
				c := process.Child{
					Name: fmt.Sprintf("%s-%d", name, i), Path: self,
					Args: append([]string{"service", "--addr", "127.0.0.1:0", "--registry", join,
						"--data-dir", g.dataDir, "--nats", g.policy.nats}, g.logging.args()...),
					// The database's URL goes in the environment, not in
					// the arguments any user may list: it may hold a password.
					Env: append(childEnv(services.Token(g.token, name), *serviceProcs), "ATRIUM_NATS_USER="+user, "ATRIUM_NATS_PASSWORD="+password,
						"ATRIUM_DATABASE="+string(g.database)),
				}
				if owns != "" {
					c.Name = fmt.Sprintf("%s[%s]-%d", name, owns, i)
					c.Args = append(c.Args, "--partition", g.policy.parts[name].String(), "--owns", owns)
				}
				c.Args = append(c.Args, name)
				return c
			}
			// Stop in order: children first, so that they deregister from a
			// gateway that still runs; then the gateway.
			gwCtx, stopGateway := context.WithCancel(context.WithoutCancel(ctx))
			defer stopGateway()
			supCtx, stopChildren := context.WithCancel(ctx)
			defer stopChildren()
			f := &fleet{sup: &process.Supervisor{Logger: logger}, ctx: supCtx, child: child, stops: map[string][]func(){}, seq: map[string]int{}}
			started := 0
			for _, name := range services.Names {
				if scheme := g.policy.parts[name]; scheme != nil {
					for _, owns := range partition.Names(scheme) { // an instance (or --replicas) per partition, not scaled
						for i := range counts[name] {
							f.start(name, owns, i+1)
							started++
						}
					}
					continue
				}
				if _, err := f.Scale(context.Background(), name, counts[name]); err != nil {
					return err
				}
				started += counts[name]
			}
			g.scale = func(ctx context.Context, service string, n int) (int, error) {
				if g.policy.parts[service] != nil {
					return 0, fmt.Errorf("%s is partitioned: its instances are its partitions': %w", service, gateway.ErrNotScalable)
				}
				return f.Scale(ctx, service, n)
			}
			gwDone := make(chan error, 1)
			go func() { gwDone <- runGateway(gwCtx, ln, g, g.logger("gateway")) }()
			go announce(ctx, registryURL, fmt.Sprintf("microservices: the gateway and %d service processes", started), tokenPath, logger)
			supDone := make(chan error, 1)
			go func() { <-supCtx.Done(); supDone <- f.wait() }()
			select {
			case err := <-gwDone: // the gateway failed: take the children down too
				stopChildren()
				<-supDone
				return err
			case err := <-supDone:
				stopGateway()
				return errors.Join(err, <-gwDone)
			}
		},
	}
}

// childEnv is what a service process gets besides the supervisor's own
// environment: its own credential, and not the admin token, even if up's
// environment has one.
func childEnv(token string, procs int) []string {
	env := []string{"ATRIUM_SERVICE_TOKEN=" + token, "ATRIUM_ADMIN_TOKEN="}
	if procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return env
}

// parseReplicas reads "catalog=3,reviews=2" into a count per service, 1 for
// the services it does not name.
func parseReplicas(s string) (map[string]int, error) {
	counts := map[string]int{}
	for _, name := range services.Names {
		counts[name] = 1
	}
	err := perService("--replicas", s, func(name, n string) error {
		count, err := strconv.Atoi(n)
		if err != nil || count < 1 || count > 32 {
			return fmt.Errorf("%s=%s, want 1 to 32", name, n)
		}
		counts[name] = count
		return nil
	})
	return counts, err
}

// perService reads a flag of "service=value,..." pairs, calling each for
// every pair after checking that it names a known service.
func perService(flag, s string, each func(name, value string) error) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return fmt.Errorf("%s: %q is not service=value", flag, part)
		case !services.Known(name):
			return fmt.Errorf("%s: no service named %q; known: %v", flag, name, services.Names)
		}
		if err := each(name, value); err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
	}
	return nil
}

// loopbackAddr is where children on this machine reach a listener: its own
// host, or 127.0.0.1 when it listens on every interface.
func loopbackAddr(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fleet is up's service processes: the supervisor keeps each running, and
// Scale starts or stops replicas of a service while the others serve.
type fleet struct {
	sup   *process.Supervisor
	ctx   context.Context
	child func(name, owns string, i int) process.Child

	mu    sync.Mutex
	stops map[string][]func() // each service's replicas' stops, oldest first
	seq   map[string]int      // the last replica number given, per service
	wg    sync.WaitGroup
}

// start starts replica i of name (or of its partition owns), and returns
// what stops it (again and again, harmlessly).
func (f *fleet) start(name, owns string, i int) func() {
	f.wg.Add(1)
	stop := f.sup.Start(f.ctx, f.child(name, owns, i))
	go func() {
		defer f.wg.Done()
		<-f.ctx.Done()
		stop()
	}()
	return stop
}

// Scale runs n replicas of service: it starts the missing ones, or stops
// the newest ones (each deregisters, then drains, before it exits) and
// returns once they have exited. It returns how many ran before.
func (f *fleet) Scale(ctx context.Context, service string, n int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := len(f.stops[service])
	for len(f.stops[service]) < n {
		f.seq[service]++
		f.stops[service] = append(f.stops[service], f.start(service, "", f.seq[service]))
	}
	for len(f.stops[service]) > n {
		last := len(f.stops[service]) - 1
		f.stops[service][last]()
		f.stops[service] = f.stops[service][:last]
		if ctx.Err() != nil {
			return was, ctx.Err()
		}
	}
	return was, nil
}

// wait returns once every replica has exited (after f.ctx is done).
func (f *fleet) wait() error {
	f.wg.Wait()
	return nil
}
