package compare

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progress shows the running load on a terminal (one line, redrawn) or, when
// the output is not a terminal, as a plain line a second.
type progress struct {
	w   io.Writer
	tty bool

	mu       sync.Mutex
	name     string
	duration time.Duration
	started  time.Time
	counts   counter
	stop     chan struct{}
	done     chan struct{}
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && isatty.IsTerminal(f.Fd())}
}

func (p *progress) begin(name string, d time.Duration) {
	p.mu.Lock()
	p.name, p.duration, p.started = name, d, time.Now()
	p.counts.ok.Store(0)
	p.counts.failed.Store(0)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
	every := time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.line(true)
				return
			case <-t.C:
				if p.tty || time.Since(p.started) < p.duration-every/2 {
					p.line(false)
				}
			}
		}
	}()
}

func (p *progress) count(ok bool) {
	if ok {
		p.counts.ok.Add(1)
	} else {
		p.counts.failed.Add(1)
	}
}

func (p *progress) end() {
	close(p.stop)
	<-p.done
}

func (p *progress) line(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.started)
	ok, failed := p.counts.ok.Load(), p.counts.failed.Load()
	rate := float64(ok+failed) / max(el.Seconds(), 0.001)
	text := fmt.Sprintf("%-48s %5.1fs/%.1fs  %7.0f req/s  %6d errors", p.name, el.Seconds(), p.duration.Seconds(), rate, failed)
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", text)
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", text)
	default:
		fmt.Fprintln(p.w, text)
	}
}
