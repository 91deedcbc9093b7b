// Package supervisor runs child processes, restarts the ones that crash,
// and stops them all gracefully. Children die with their supervisor even
// when it is killed (Linux parent-death signal), so none is orphaned.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrExited reports a child that exited by itself with status 0: it is
// restarted like one that crashed.
var ErrExited = errors.New("exited with status 0 without being asked to stop")

// Process describes one child.
type Process struct {
	// Name labels the child in logs.
	Name string
	// Path is the program; Args its arguments (without the program name).
	Path string
	Args []string
	// Env is added to the supervisor's own environment.
	Env []string
}

// Supervisor runs Processes. The zero value is usable.
type Supervisor struct {
	// Logger reports starts, exits and restarts. If nil, slog.Default().
	Logger *slog.Logger
	// Output receives the children's stdout and stderr. If nil, os.Stderr.
	Output io.Writer
	// StopTimeout is how long a child has to exit after SIGTERM before it is
	// killed [10s].
	StopTimeout time.Duration
	// MaxBackoff caps the delay before restarting a crashed child [5s]; the
	// delay starts at 100ms and doubles while the child keeps crashing
	// within a second of its start.
	MaxBackoff time.Duration

	mu   sync.Mutex
	pids map[string]int
}

// Pids returns the current pid of each running child, by name.
func (s *Supervisor) Pids() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.pids))
	for k, v := range s.pids {
		out[k] = v
	}
	return out
}

// Run starts every process, restarts any that exits while ctx lives, and
// when ctx is done stops them all (SIGTERM, then SIGKILL after StopTimeout)
// and returns once every child has exited.
func (s *Supervisor) Run(ctx context.Context, procs []Process) error {
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Go(func() { errs[i] = s.keep(ctx, p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Supervisor) setPid(name string, pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pids == nil {
		s.pids = map[string]int{}
	}
	if pid == 0 {
		delete(s.pids, name)
	} else {
		s.pids[name] = pid
	}
}

// keep runs p until ctx is done, restarting it with back-off.
func (s *Supervisor) keep(ctx context.Context, p Process) error {
	backoff := 100 * time.Millisecond
	maxBackoff := s.MaxBackoff
	if maxBackoff == 0 {
		maxBackoff = 5 * time.Second
	}
	for {
		started := time.Now()
		err := s.runOnce(ctx, p)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Second {
			backoff = 100 * time.Millisecond
		}
		s.logger().Warn("child exited; restarting", "child", p.Name, "err", err, "after", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *Supervisor) runOnce(ctx context.Context, p Process) error {
	out := s.Output
	if out == nil {
		out = os.Stderr
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // a terminal's Ctrl-C reaches the supervisor, which stops children in order
		Pdeathsig: syscall.SIGTERM, // and a killed supervisor still takes its children with it
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	s.setPid(p.Name, cmd.Process.Pid)
	defer s.setPid(p.Name, 0)
	s.logger().Info("child started", "child", p.Name, "pid", cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return fmt.Errorf("%s: %w", p.Name, ErrExited)
		}
		return fmt.Errorf("%s exited: %w", p.Name, err)
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timeout := s.StopTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	select {
	case <-done:
	case <-time.After(timeout):
		s.logger().Warn("child did not stop in time; killing", "child", p.Name)
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}
