package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/atrium-bff/atrium/internal/server"
	"github.com/atrium-bff/atrium/internal/stack"
	"github.com/atrium-bff/atrium/internal/supervisor"
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
		Exec: func(ctx context.Context, _ []string) error {
			counts, err := parseReplicas(*replicas)
			if err != nil {
				return err
			}
			if g.token == "" {
				g.token = newToken()
			}
			logger := server.NewLogger(os.Stderr, g.logLevel, "up")
			ln, err := net.Listen("tcp", g.addr)
			if err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("up: find own binary: %w", err)
			}
			registryURL := "http://" + loopbackAddr(ln.Addr().(*net.TCPAddr))
			var procs []supervisor.Process
			for _, name := range stack.Names {
				for i := range counts[name] {
					procs = append(procs, supervisor.Process{
						Name: fmt.Sprintf("%s-%d", name, i+1), Path: self,
						Args: []string{"service", "--addr", "127.0.0.1:0", "--registry", registryURL,
							"--data-dir", g.dataDir, "--log-level", g.logLevel, name},
						Env: childEnv(g.token, *serviceProcs),
					})
				}
			}
			// Stop in order: children first, so that they deregister from a
			// gateway that still runs; then the gateway.
			gwCtx, stopGateway := context.WithCancel(context.WithoutCancel(ctx))
			defer stopGateway()
			gwDone := make(chan error, 1)
			go func() { gwDone <- runGateway(gwCtx, ln, g, server.NewLogger(os.Stderr, g.logLevel, "gateway")) }()
			sup := &supervisor.Supervisor{Logger: logger}
			supCtx, stopChildren := context.WithCancel(ctx)
			defer stopChildren()
			supDone := make(chan error, 1)
			go func() { supDone <- sup.Run(supCtx, procs) }()
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
// environment.
func childEnv(token string, procs int) []string {
	env := []string{"ATRIUM_ADMIN_TOKEN=" + token}
	if procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return env
}

// parseReplicas reads "catalog=3,reviews=2" into a count per service, 1 for
// the services it does not name.
func parseReplicas(s string) (map[string]int, error) {
	counts := map[string]int{}
	for _, name := range stack.Names {
		counts[name] = 1
	}
	if s == "" {
		return counts, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(part), "=")
		count, err := strconv.Atoi(n)
		switch {
		case !ok || err != nil:
			return nil, fmt.Errorf("--replicas: %q is not name=N", part)
		case !slices.Contains(stack.Names, name):
			return nil, fmt.Errorf("--replicas: no service named %q; known: %v", name, stack.Names)
		case count < 1 || count > 32:
			return nil, fmt.Errorf("--replicas: %s=%d, want 1 to 32", name, count)
		}
		counts[name] = count
	}
	return counts, nil
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
