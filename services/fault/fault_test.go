package fault_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/services/fault"
)

func TestFaults(t *testing.T) {
	var in fault.Injector
	if err := in.Apply(context.Background()); err != nil {
		t.Fatalf("no faults: %v", err)
	}
	if err := in.Set(fault.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	if err := in.Apply(context.Background()); !errors.Is(err, fault.ErrInjected) {
		t.Errorf("error_rate 1: %v", err)
	}
	in.Set(fault.Faults{LatencyMS: 60000})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := in.Apply(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency past the deadline: %v", err)
	}
	in.Set(fault.Faults{CPUMS: 20})
	start := time.Now()
	in.Apply(context.Background())
	if time.Since(start) < 20*time.Millisecond {
		t.Error("cpu_ms 20 returned early")
	}
	exited := -1
	crash := fault.Injector{Exit: func(code int) { exited = code }}
	crash.Set(fault.Faults{Crash: true})
	crash.Apply(context.Background())
	if exited != fault.CrashExitCode {
		t.Errorf("crash exited with %d", exited)
	}
	if in.Calls() != 4 {
		t.Errorf("%d calls counted, want 4", in.Calls())
	}
	for _, bad := range []fault.Faults{{LatencyMS: -1}, {ErrorRate: 2}, {CPUMS: 20000}} {
		if err := in.Set(bad); !errors.Is(err, fault.ErrInvalid) {
			t.Errorf("Set(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}
