// Package fault injects faults into a service for tests and demonstrations:
// added latency, a rate of failed calls, or a crash of the whole process.
// The same Injector sits in front of a service in both modes: as HTTP
// middleware in a service process, and at the in-process call boundary in a
// monolith, so a fault behaves alike wherever the service runs.
package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/atrium-bff/atrium/internal/domain"
	"github.com/atrium-bff/atrium/internal/problem"
)

// Faults describes what to inject. The zero value injects nothing.
type Faults struct {
	// LatencyMS delays every call, in milliseconds (0 to 60000). The delay
	// ends early when the call's context does: the service gives up its
	// work when its caller's deadline passes.
	LatencyMS int `json:"latency_ms"`
	// ErrorRate fails that fraction of calls (0 to 1) with ErrInjected.
	ErrorRate float64 `json:"error_rate"`
	// CPUMS burns that many milliseconds of CPU in every call (0 to
	// 10000): a CPU-heavy service, to show what replicas of it buy.
	CPUMS int `json:"cpu_ms"`
	// Crash makes the process exit at the next call: in a monolith, that is
	// the whole server.
	Crash bool `json:"crash"`
}

// ErrInvalid reports faults out of range.
var ErrInvalid = domain.New(domain.Invalid, "invalid faults")

// Validate checks the ranges.
func (f Faults) Validate() error {
	if f.LatencyMS < 0 || f.LatencyMS > 60000 || f.ErrorRate < 0 || f.ErrorRate > 1 || f.CPUMS < 0 || f.CPUMS > 10000 {
		return fmt.Errorf("latency_ms must be 0..60000, cpu_ms 0..10000 and error_rate 0..1, got %d, %d and %v: %w",
			f.LatencyMS, f.CPUMS, f.ErrorRate, ErrInvalid)
	}
	return nil
}

// ErrInjected is the error of a call failed on purpose.
var ErrInjected = errors.New("injected fault")

// CrashExitCode is the exit status of a process crashed on purpose.
const CrashExitCode = 3

// Injector applies the current Faults to each call. The zero value injects
// nothing and is ready to use; it is safe for concurrent use.
type Injector struct {
	// Exit ends the process for Crash. If nil, os.Exit.
	Exit func(code int)

	current atomic.Pointer[Faults]
	calls   atomic.Int64
}

// Set replaces the faults.
func (in *Injector) Set(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	in.current.Store(&f)
	return nil
}

// Get returns the current faults.
func (in *Injector) Get() Faults {
	if f := in.current.Load(); f != nil {
		return *f
	}
	return Faults{}
}

// Calls returns how many calls the injector has seen: the service's own
// count of the requests that reached it.
func (in *Injector) Calls() int64 { return in.calls.Load() }

// Apply counts a call and injects the current faults into it: it may exit
// the process, wait, or return ErrInjected; it returns the context's error
// when the context ends during the wait.
func (in *Injector) Apply(ctx context.Context) error {
	in.calls.Add(1)
	f := in.current.Load()
	if f == nil {
		return nil
	}
	if f.Crash {
		exit := in.Exit
		if exit == nil {
			exit = os.Exit
		}
		exit(CrashExitCode)
	}
	if f.LatencyMS > 0 {
		t := time.NewTimer(time.Duration(f.LatencyMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.CPUMS > 0 {
		_ = burn(ctx, time.Duration(f.CPUMS)*time.Millisecond)
	}
	if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		return ErrInjected
	}
	return nil
}

// burn keeps a CPU busy for d, or until ctx ends; its result only keeps
// the work from looking pointless.
func burn(ctx context.Context, d time.Duration) uint64 {
	end := time.Now().Add(d)
	x := uint64(1)
	for i := 0; time.Now().Before(end); i++ {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if i%64 == 0 && ctx.Err() != nil {
			break
		}
	}
	return x
}

// Middleware applies the injector to every request before next sees it. An
// injected error answers 503; a request whose deadline passed during the
// injected latency answers 504.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := in.Apply(r.Context()); err != nil {
			p := problem.New(http.StatusServiceUnavailable, "injected_fault", err.Error())
			if !errors.Is(err, ErrInjected) {
				p = problem.New(http.StatusGatewayTimeout, "deadline_exceeded", "the caller's deadline passed: "+err.Error())
			}
			p.Instance = r.URL.Path
			p.RequestID = r.Header.Get("X-Request-Id")
			problem.Write(w, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ErrUnknownService reports a service the faults API does not know.
var ErrUnknownService = domain.New(domain.NotFound, "no such service")

// Local is the injectors of in-process services, by service name: a
// monolith's faults API.
type Local map[string]*Injector

// Set sets (nil: clears) the faults of service.
func (l Local) Set(_ context.Context, service string, f *Faults) (Report, error) {
	in, ok := l[service]
	if !ok {
		return Report{}, fmt.Errorf("faults of %q: %w", service, ErrUnknownService)
	}
	if err := in.Set(valueOr(f)); err != nil {
		return Report{}, err
	}
	return l.Get(context.Background(), service)
}

// Get reports the faults of service.
func (l Local) Get(_ context.Context, service string) (Report, error) {
	in, ok := l[service]
	if !ok {
		return Report{}, fmt.Errorf("faults of %q: %w", service, ErrUnknownService)
	}
	return Report{Service: service, Faults: in.Get(), Instances: []InstanceReport{{ID: "in-process", Calls: in.Calls()}}}, nil
}

// Apply applies the faults of service to a call, for an orchestration
// runtime's Before hook.
func (l Local) Apply(ctx context.Context, service string) error {
	if in, ok := l[service]; ok {
		return in.Apply(ctx)
	}
	return nil
}

func valueOr(f *Faults) Faults {
	if f == nil {
		return Faults{}
	}
	return *f
}
