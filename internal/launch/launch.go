// Package launch starts atrium server processes on free loopback ports and
// waits until they are ready: what the end-to-end tests and atrium compare
// do before they send a request.
package launch

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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running atrium server.
type Process struct {
	Cmd *exec.Cmd
	// Base is its URL, http://127.0.0.1:port.
	Base string

	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
	err  error
}

// Start runs binary with args (a server subcommand and its flags; --addr
// 127.0.0.1:0 is added unless args have an --addr) and env added to the
// environment, and returns once it answers /readyz, or fails after timeout.
func Start(ctx context.Context, binary string, args, env []string, timeout time.Duration) (*Process, error) {
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
	p := &Process{Cmd: cmd, done: make(chan struct{})}
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
		return nil, fmt.Errorf("launch %v: exited: %v\n%s", args, p.err, p.Output())
	case <-deadline.C:
		p.Kill()
		return nil, fmt.Errorf("launch %v: no listening address within %v", args, timeout)
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
			return nil, fmt.Errorf("launch %v: exited before ready: %v", args, p.err)
		case <-deadline.C:
			p.Kill()
			return nil, fmt.Errorf("launch %v: not ready within %v", args, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Output returns what the process has logged so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Done is closed when the process has exited; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Process) Err() error { return p.err }

// ErrStopTimeout reports a process that had to be killed because it did not
// stop within Stop's timeout.
var ErrStopTimeout = errors.New("did not stop within the timeout: killed")

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it. It returns the exit error, or an error if it had to kill.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return ErrStopTimeout
	}
}

// Kill kills the process and waits for it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Tree returns the pids of the process and all its descendants.
func (p *Process) Tree() []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fields := statFields(string(b))
		if len(fields) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{p.Cmd.Process.Pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// Usage is the CPU time a set of processes has used, and the sum of their
// peak resident memory.
type Usage struct {
	CPU     time.Duration
	PeakRSS int64 // bytes
}

// Usage reads the CPU time and peak RSS of the process tree from /proc.
// A process that has exited since Tree is left out.
func (p *Process) Usage() Usage {
	var u Usage
	for _, pid := range p.Tree() {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			f := statFields(string(b))
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				u.CPU += time.Duration(ut+st) * time.Second / clockTicks
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					u.PeakRSS += kb * 1024
				}
			}
		}
	}
	return u
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux.
const clockTicks = 100

// statFields splits /proc/<pid>/stat after the command name (which may hold
// spaces): field 0 is the state, 1 the parent pid, 11 and 12 utime and stime.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}
