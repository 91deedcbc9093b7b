package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Server is a running atrium server, started by Launch.
type Server struct {
	Cmd *exec.Cmd
	// Base is its URL, http://127.0.0.1:port.
	Base string

	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
	err  error
}

// Launch runs binary with args (a server subcommand and its flags; --addr
// 127.0.0.1:0 is added unless args have an --addr) and env added to the
// environment, and returns once it answers /readyz, or fails after timeout.
// It is what the end-to-end tests and atrium-compare do before they send a
// request.
func Launch(ctx context.Context, binary string, args, env []string, timeout time.Duration) (*Server, error) {
	known := "" // an address given with a port is known before the log says it
	if i := slices.Index(args, "--addr"); i < 0 {
		args = append(args, "--addr", "127.0.0.1:0")
	} else if i+1 < len(args) && !strings.HasSuffix(args[i+1], ":0") {
		known = args[i+1]
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch %v: %w", args, err)
	}
	p := &Server{Cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	if known != "" {
		addr <- known
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.logs.Write(line)
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && (rec.Msg == "gateway listening" || rec.Msg == "monolith listening") {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case a := <-addr:
		p.Base = "http://" + a
	case <-p.done:
		return nil, fmt.Errorf("launch %v: exited: %v\n%s", args, p.err, p.Tail())
	case <-deadline.C:
		p.Kill()
		return nil, fmt.Errorf("launch %v: no listening address within %v; its last log lines:\n%s", args, timeout, p.Tail())
	case <-ctx.Done():
		p.Kill()
		return nil, ctx.Err()
	}
	for {
		if resp, err := http.Get(p.Base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("launch %v: exited before ready: %v\n%s", args, p.err, p.Tail())
		case <-deadline.C:
			p.Kill()
			return nil, fmt.Errorf("launch %v: not ready within %v; its last log lines:\n%s", args, timeout, p.Tail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Output returns what the process has logged so far.
func (p *Server) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Tail is the last 40 lines of the process's log, for a launch or a test
// that failed.
func (p *Server) Tail() string {
	lines := strings.Split(strings.TrimSuffix(p.Output(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// Done is closed when the process has exited; Err then says how.
func (p *Server) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Server) Err() error { return p.err }

// ErrStopTimeout reports a process that had to be killed because it did not
// stop within Stop's timeout.
var ErrStopTimeout = errors.New("did not stop within the timeout: killed")

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns the exit error, or ErrStopTimeout if it had to kill.
func (p *Server) Stop(timeout time.Duration) error {
	if stop(p.Cmd.Process, p.done, timeout) {
		return ErrStopTimeout
	}
	return p.err
}

// Kill kills the process and waits for it.
func (p *Server) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}
