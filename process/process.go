// Package process starts, supervises and stops atrium's own child
// processes, in three shapes that share one back-off and one stop sequence:
//
//   - a Supervisor keeps a set of children running and restarts the ones
//     that crash (atrium up: one child per service instance);
//   - a Cluster runs N workers of a server on one listening socket it passes
//     down, restarts crashed workers and replaces them one at a time for a
//     zero-downtime deploy (atrium cluster); Listen, Ready and Grace are the
//     worker's side of it;
//   - Launch starts a server on a free loopback port and waits until it is
//     ready (the end-to-end tests and atrium-compare).
//
// On Linux children carry a parent-death signal, so that even a kill -9 of
// their parent leaves no orphan; elsewhere that guarantee is missing.
package process

import (
	"os"
	"time"
)

// Backoff is the delay before restarting a child that exited: Min at
// first, doubling each time the child exits again within Reset of its
// start, never more than Max. The zero value is 100ms, 5s and 1s.
type Backoff struct {
	Min, Max, Reset time.Duration

	next time.Duration
}

// Next returns the delay before the next restart of a child that lived
// for lived.
func (b *Backoff) Next(lived time.Duration) time.Duration {
	lo, hi, reset := b.Min, b.Max, b.Reset
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	if reset <= 0 {
		reset = time.Second
	}
	if b.next == 0 || lived > reset {
		b.next = lo
	}
	d := b.next
	b.next = min(2*b.next, hi)
	return d
}

// stop ends a child: it asks it to exit (SIGTERM; on Windows, where there
// is no asking, it kills it) and kills it if it has not exited within
// timeout. exited is closed once the child has been waited for. It reports
// whether the child had to be killed.
func stop(p *os.Process, exited <-chan struct{}, timeout time.Duration) (killed bool) {
	select {
	case <-exited:
		return false
	default:
	}
	_ = terminate(p)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-exited:
		return false
	case <-t.C:
		_ = p.Kill()
		<-exited
		return true
	}
}

// Terminate asks the process pid to exit: SIGTERM (on Windows, where there
// is no asking, it kills it).
func Terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return terminate(p)
}
