package orchestration

import (
	"sync"
	"time"
)

// workers runs functions on goroutines that outlive them: each waits, once
// its function returns, for the next one, and ends after a while idle. A
// step of a plan calls down through the HTTP client's deep stacks; on a new
// goroutine per step the runtime spent 9% of the gateway's CPU at capacity
// growing and copying stacks, which a goroutine that stays grows once.
// Functions never wait for a worker: with none idle, a new one starts.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only into an idle worker
	idle time.Duration
	once sync.Once
}

// Go runs f on an idle worker, or on a new one.
func (w *workers) Go(f func()) {
	w.once.Do(func() { w.jobs = make(chan func()) })
	select {
	case w.jobs <- f:
	default:
		go w.work(f)
	}
}

func (w *workers) work(f func()) {
	idle := w.idle
	if idle <= 0 {
		idle = 30 * time.Second
	}
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		f()
		t.Reset(idle)
		select {
		case f = <-w.jobs:
		case <-t.C:
			return
		}
	}
}
