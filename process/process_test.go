//go:build linux

package process_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/process"
)

// The test binary is also the children these tests start: with
// PROCESS_TEST_CHILD set, TestMain plays that child instead of testing.
const childEnv = "PROCESS_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		child(role)
		return
	}
	os.Exit(m.Run())
}

// child plays a role:
//
//	wait:      note its pid in $PIDFILE, then exit 0 on SIGTERM
//	crash:     exit 1 at once, the first time ($PIDFILE missing); then wait
//	stubborn:  ignore SIGTERM
//	server:    a cluster worker: serve its pid over HTTP, say ready, drain on SIGTERM
func child(role string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	pidFile := os.Getenv("PIDFILE")
	switch role {
	case "crash":
		if _, err := os.Stat(pidFile); err != nil {
			_ = os.WriteFile(pidFile, []byte("crashed\n"), 0o600)
			os.Exit(1)
		}
		fallthrough
	case "wait":
		f, _ := os.OpenFile(pidFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		fmt.Fprintln(f, os.Getpid())
		f.Close()
		<-term
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("stubborn")
		time.Sleep(time.Minute)
	case "server":
		ln, err := process.Listen("127.0.0.1:0")
		if err != nil {
			os.Exit(2)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, os.Getpid())
		})}
		go srv.Serve(ln)
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Info("gateway listening", "addr", ln.Addr().String())
		if err := process.Ready(); err != nil {
			os.Exit(3)
		}
		<-term
		_ = srv.Shutdown(context.Background())
	}
}

func self(t *testing.T) string {
	t.Helper()
	path, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// pids reads the pids the children noted.
func pids(path string) []string {
	b, _ := os.ReadFile(path)
	var out []string
	for _, l := range strings.Fields(string(b)) {
		if l != "crashed" {
			out = append(out, l)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

func alive(pid string) bool {
	n, _ := strconv.Atoi(pid)
	return syscall.Kill(n, 0) == nil
}

func TestBackoff(t *testing.T) {
	var b process.Backoff
	var got []time.Duration
	for range 8 {
		got = append(got, b.Next(10*time.Millisecond)) // crashing at once, again and again
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	if d := b.Next(2 * time.Second); d != 100*time.Millisecond {
		t.Errorf("after a child that lived 2 s: %v, want 100ms again", d)
	}
}

func TestSupervisorRestartsACrashedChildAndStopsAll(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	s := &process.Supervisor{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Output: io.Discard}
	children := []process.Child{
		{Name: "steady", Path: self(t), Env: []string{childEnv + "=wait", "PIDFILE=" + dir + "/steady"}},
		{Name: "flaky", Path: self(t), Env: []string{childEnv + "=crash", "PIDFILE=" + dir + "/flaky"}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, children) }()
	waitFor(t, "both children to run", func() bool { return len(pids(dir+"/steady")) == 1 && len(pids(dir+"/flaky")) == 1 })
	if !strings.Contains(logs.String(), "child=flaky") || !strings.Contains(logs.String(), "restarting") {
		t.Errorf("the crash was not logged:\n%s", logs.String())
	}
	running := append(pids(dir+"/steady"), pids(dir+"/flaky")...)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	for _, pid := range running {
		if alive(pid) {
			t.Errorf("child %s outlived Run", pid)
		}
	}
}

func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	var out syncBuffer
	s := &process.Supervisor{StopTimeout: 100 * time.Millisecond, Output: &out, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, []process.Child{{Name: "stubborn", Path: self(t), Env: []string{childEnv + "=stubborn"}}})
	}()
	waitFor(t, "the child to ignore SIGTERM", func() bool { return strings.Contains(out.String(), "stubborn") })
	cancel() // SIGTERM is ignored: only the kill after StopTimeout ends the child, and Run

	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: the child was not killed")
	}
}

func TestClusterWorkersShareOneSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv(childEnv, "server")
	c, err := process.NewCluster(process.ClusterConfig{Binary: self(t), Workers: 2, Listener: ln.(*net.TCPListener),
		Logger: slog.New(slog.DiscardHandler), StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "two workers", func() bool { return len(c.Workers()) == 2 })
	url := "http://" + ln.Addr().String()
	first := c.Workers()

	// Every answer comes from a worker, and a killed worker is replaced.
	if pid := get(t, url); pid != first[0].PID && pid != first[1].PID {
		t.Errorf("answered by pid %d, not a worker of %+v", pid, first)
	}
	syscall.Kill(first[0].PID, syscall.SIGKILL)
	waitFor(t, "the killed worker's replacement", func() bool {
		w := c.Workers()
		return len(w) == 2 && w[0].PID != first[0].PID && w[0].Restarts == 1
	})

	// A roll replaces both, and the socket answers throughout.
	before := c.Workers()
	if err := c.Roll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Workers() {
		if w.PID == before[0].PID || w.PID == before[1].PID {
			t.Errorf("worker %d survived the roll", w.PID)
		}
	}
	get(t, url)
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pid, _ := strconv.Atoi(string(b))
	return pid
}

func TestLaunchWaitsUntilReadyAndStops(t *testing.T) {
	t.Setenv(childEnv, "server")
	s, err := process.Launch(context.Background(), self(t), nil, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if pid := get(t, s.Base+"/readyz"); pid != s.Cmd.Process.Pid {
		t.Errorf("%s answered as pid %d, want %d", s.Base, pid, s.Cmd.Process.Pid)
	}
	if err := s.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}

	t.Setenv(childEnv, "crash")
	t.Setenv("PIDFILE", t.TempDir()+"/pid")
	if _, err := process.Launch(context.Background(), self(t), nil, nil, 10*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("Launch of a server that exits: %v, want an error saying so", err)
	}

	t.Setenv(childEnv, "stubborn")
	_, err = process.Launch(context.Background(), self(t), nil, nil, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no listening address") {
		t.Errorf("Launch of a server that never listens: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
