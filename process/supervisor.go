package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrExited reports a child that exited by itself with status 0: it is
// restarted like one that crashed.
var ErrExited = errors.New("exited with status 0 without being asked to stop")

// Child describes one child of a Supervisor.
type Child struct {
	// Name labels the child in logs.
	Name string
	// Path is the program; Args its arguments (without the program name).
	Path string
	Args []string
	// Env is added to the supervisor's own environment.
	Env []string
}

// Supervisor runs children, restarts the ones that exit, and stops them
// all gracefully. The zero value is usable.
type Supervisor struct {
	// Logger reports starts, exits and restarts. If nil, slog.Default().
	Logger *slog.Logger
	// Output receives the children's stdout and stderr. If nil, os.Stderr.
	Output io.Writer
	// StopTimeout is how long a child has to exit after SIGTERM before it is
	// killed [10s].
	StopTimeout time.Duration
	// Backoff spaces the restarts of a child that keeps crashing; each
	// child gets its own copy.
	Backoff Backoff
}

// Run starts every child, restarts any that exits while ctx lives, and
// when ctx is done stops them all (SIGTERM, then SIGKILL after StopTimeout)
// and returns once every child has exited.
func (s *Supervisor) Run(ctx context.Context, children []Child) error {
	var wg sync.WaitGroup
	errs := make([]error, len(children))
	for i, c := range children {
		wg.Go(func() { errs[i] = s.keep(ctx, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Start runs c as Run runs its children (restarted when it exits), until
// ctx is done or the returned stop is called; stop stops c gracefully and
// returns once it has exited.
func (s *Supervisor) Start(ctx context.Context, c Child) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.keep(ctx, c)
	}()
	return func() { cancel(); <-done }
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// keep runs c until ctx is done, restarting it with back-off.
func (s *Supervisor) keep(ctx context.Context, c Child) error {
	backoff := s.Backoff
	for {
		started := time.Now()
		err := s.runOnce(ctx, c)
		if ctx.Err() != nil {
			return nil
		}
		delay := backoff.Next(time.Since(started))
		s.logger().Warn("child exited; restarting", "child", c.Name, "err", err, "after", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// runOnce runs c until it exits, or until ctx is done and it is stopped.
func (s *Supervisor) runOnce(ctx context.Context, c Child) error {
	out := s.Output
	if out == nil {
		out = os.Stderr
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	s.logger().Info("child started", "child", c.Name, "pid", cmd.Process.Pid)
	exited := make(chan struct{})
	var err error
	go func() { err = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
		if err == nil {
			return fmt.Errorf("%s: %w", c.Name, ErrExited)
		}
		return fmt.Errorf("%s exited: %w", c.Name, err)
	case <-ctx.Done():
	}
	timeout := s.StopTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if stop(cmd.Process, exited, timeout) {
		s.logger().Warn("child did not stop in time; killed", "child", c.Name)
	}
	return nil
}
