package process

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// The environment variables a worker reads: the descriptor of the inherited
// listening socket, and the one to write "ready" to once it serves.
const (
	ListenFDEnv = "ATRIUM_LISTEN_FD"
	ReadyFDEnv  = "ATRIUM_READY_FD"
)

// ClusterConfig configures a Cluster.
type ClusterConfig struct {
	// Binary and Args are the worker command (a server subcommand and its flags).
	Binary string
	Args   []string
	// Env is added to every worker's environment.
	Env []string
	// Workers is how many workers run [1].
	Workers int
	// Listener is the socket the workers share. Required.
	Listener *net.TCPListener
	// Logger reports the workers' lives. If nil, slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds a worker's start [30s]; StopTimeout its drain [30s].
	ReadyTimeout, StopTimeout time.Duration
}

// Cluster runs N worker processes of an atrium server that all accept
// connections from one listening socket the cluster opened and passed down,
// so the kernel spreads connections over them and a dying worker leaves no
// orphaned accept queue. A worker that crashes is started again with
// back-off; a rolling restart replaces the workers one at a time, each new
// one ready before the old one drains.
type Cluster struct {
	cfg  ClusterConfig
	file *os.File // the listening socket, passed to every worker

	mu      sync.Mutex
	slots   []*worker
	started time.Time
	rolling sync.Mutex // one rolling restart at a time
}

type worker struct {
	slot     int
	cmd      *exec.Cmd
	started  time.Time
	restarts int
	backoff  Backoff     // how long to wait before restarting the slot
	retiring atomic.Bool // being replaced or stopped: do not restart it
	done     chan struct{}
}

// WorkerStatus is one worker as the admin endpoint reports it.
type WorkerStatus struct {
	Slot     int     `json:"slot"`
	PID      int     `json:"pid"`
	Restarts int     `json:"restarts"`
	UptimeS  float64 `json:"uptime_s"`
}

// NewCluster returns a cluster; Run starts it.
func NewCluster(cfg ClusterConfig) (*Cluster, error) {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	f, err := cfg.Listener.File() // a duplicate descriptor, inheritable
	if err != nil {
		return nil, fmt.Errorf("cluster: socket: %w", err)
	}
	return &Cluster{cfg: cfg, file: f}, nil
}

// Workers reports the running workers.
func (c *Cluster) Workers() []WorkerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]WorkerStatus, 0, len(c.slots))
	for _, w := range c.slots {
		if w == nil || w.cmd.Process == nil {
			continue
		}
		out = append(out, WorkerStatus{Slot: w.slot, PID: w.cmd.Process.Pid, Restarts: w.restarts, UptimeS: time.Since(w.started).Seconds()})
	}
	return out
}

// Run starts the workers and keeps them running until ctx is done, then
// stops them all (SIGTERM, then SIGKILL after StopTimeout).
func (c *Cluster) Run(ctx context.Context) error {
	c.mu.Lock()
	c.slots = make([]*worker, c.cfg.Workers)
	c.started = time.Now()
	c.mu.Unlock()
	for i := range c.cfg.Workers {
		w, err := c.spawn(ctx, i, 0, Backoff{})
		if err != nil {
			c.stopAll()
			return err
		}
		c.setSlot(i, w)
	}
	<-ctx.Done()
	c.stopAll()
	return nil
}

func (c *Cluster) setSlot(i int, w *worker) {
	c.mu.Lock()
	c.slots[i] = w
	c.mu.Unlock()
}

// spawn starts a worker for slot and waits until it is ready. A watcher
// restarts it, with back-off, if it exits while it is still the slot's
// worker and the cluster runs.
func (c *Cluster) spawn(ctx context.Context, slot, restarts int, backoff Backoff) (*worker, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	cmd := exec.Command(c.cfg.Binary, c.cfg.Args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{c.file, readyW} // descriptors 3 and 4
	cmd.Env = append(append(os.Environ(), c.cfg.Env...), ListenFDEnv+"=3", ReadyFDEnv+"=4")
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return nil, fmt.Errorf("cluster: start worker %d: %w", slot, err)
	}
	readyW.Close() // the worker holds its own copy
	w := &worker{slot: slot, cmd: cmd, started: time.Now(), restarts: restarts, backoff: backoff, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.done); c.exited(ctx, w) }()

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(readyR).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("worker said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, fmt.Errorf("cluster: worker %d (pid %d) did not get ready: %w", slot, cmd.Process.Pid, err)
		}
	case <-time.After(c.cfg.ReadyTimeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("cluster: worker %d not ready within %v", slot, c.cfg.ReadyTimeout)
	}
	c.cfg.Logger.Info("worker ready", "slot", slot, "pid", cmd.Process.Pid, "restarts", restarts)
	return w, nil
}

// exited restarts a worker that died on its own.
func (c *Cluster) exited(ctx context.Context, w *worker) {
	c.mu.Lock()
	current := w.slot < len(c.slots) && c.slots[w.slot] == w
	c.mu.Unlock()
	if w.retiring.Load() || !current || ctx.Err() != nil {
		return
	}
	c.cfg.Logger.Warn("worker exited; restarting", "slot", w.slot, "pid", w.cmd.Process.Pid, "state", w.cmd.ProcessState.String())
	backoff, lived := w.backoff, time.Since(w.started)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Next(lived)):
		}
		nw, err := c.spawn(ctx, w.slot, w.restarts+1, backoff)
		if err == nil {
			c.setSlot(w.slot, nw)
			return
		}
		c.cfg.Logger.Error("worker restart failed", "slot", w.slot, "err", err)
		lived = 0 // a worker that never got ready counts as crashing at once
	}
}

// Roll replaces every worker, one at a time: the new one is started and
// ready before the old one is told to drain and exit, so that some worker
// always accepts. Use it to deploy a new binary without a failed request.
func (c *Cluster) Roll(ctx context.Context) error {
	c.rolling.Lock()
	defer c.rolling.Unlock()
	for i := range c.cfg.Workers {
		c.mu.Lock()
		old := c.slots[i]
		c.mu.Unlock()
		nw, err := c.spawn(ctx, i, 0, Backoff{})
		if err != nil {
			return err
		}
		if old != nil {
			old.retiring.Store(true)
		}
		c.setSlot(i, nw)
		if old != nil {
			c.stop(old)
		}
	}
	c.cfg.Logger.Info("rolling restart done", "workers", c.cfg.Workers)
	return nil
}

func (c *Cluster) stop(w *worker) {
	w.retiring.Store(true)
	if stop(w.cmd.Process, w.done, c.cfg.StopTimeout) {
		c.cfg.Logger.Warn("worker did not drain in time; killed", "slot", w.slot, "pid", w.cmd.Process.Pid)
	}
}

// Routes serves the cluster's admin API under g:
//
//	GET  {g}/workers   the workers: slot, pid, restarts, uptime
//	POST {g}/roll      a rolling restart; answers the new workers
func (c *Cluster) Routes(g *echo.Group) {
	g.GET("/workers", func(e echo.Context) error { return e.JSON(http.StatusOK, c.Workers()) })
	g.POST("/roll", func(e echo.Context) error {
		if err := c.Roll(e.Request().Context()); err != nil {
			return err
		}
		return e.JSON(http.StatusOK, c.Workers())
	})
}

// RollOnSignal makes a rolling restart each time the process receives one
// of SIGHUP or SIGUSR2 (no signal does on Windows), until ctx is done.
func (c *Cluster) RollOnSignal(ctx context.Context) {
	signals := rollSignals()
	if len(signals) == 0 {
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, signals...)
	defer signal.Stop(sig)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			c.cfg.Logger.Info("rolling restart")
			if err := c.Roll(ctx); err != nil {
				c.cfg.Logger.Error("rolling restart failed", "err", err)
			}
		}
	}
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	slots := append([]*worker(nil), c.slots...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range slots {
		if w != nil {
			wg.Go(func() { c.stop(w) })
		}
	}
	wg.Wait()
}

// Listen returns the listener a worker serves on: the socket its cluster
// passed down, or a new one on addr when it runs alone.
func Listen(addr string) (net.Listener, error) {
	if fd := os.Getenv(ListenFDEnv); fd != "" {
		var n uintptr
		if _, err := fmt.Sscan(fd, &n); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", ListenFDEnv, fd, err)
		}
		ln, err := net.FileListener(os.NewFile(n, "cluster-listener"))
		if err != nil {
			return nil, fmt.Errorf("inherited listener: %w", err)
		}
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

// Ready tells the cluster, if any, that this worker serves.
func Ready() error {
	fd := os.Getenv(ReadyFDEnv)
	if fd == "" {
		return nil
	}
	var n uintptr
	if _, err := fmt.Sscan(fd, &n); err != nil {
		return fmt.Errorf("%s=%q: %w", ReadyFDEnv, fd, err)
	}
	f := os.NewFile(n, "cluster-ready")
	defer f.Close()
	_, err := f.WriteString("ready\n")
	return err
}

// Grace is how long a worker drains before it closes its connections: half
// a second in a cluster, where other workers take over; nothing alone.
func Grace() time.Duration {
	if os.Getenv(ListenFDEnv) == "" {
		return 0
	}
	return 500 * time.Millisecond
}
