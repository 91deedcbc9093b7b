package orchestration_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
)

func TestRunIsParallel(t *testing.T) {
	// Every call waits until all have started: sequential calls would never
	// get there and time out instead.
	const n = 4
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	calls := make([]orchestration.Call, n)
	for i := range calls {
		calls[i] = orchestration.Call{Name: string(rune('a' + i)), Required: true, Timeout: 10 * time.Second,
			Do: func(ctx context.Context) error {
				started.Done()
				select {
				case <-all:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
	}
	meta, err := orchestration.Run(context.Background(), calls...)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Partial || len(meta.Sources) != n {
		t.Errorf("meta = %+v", meta)
	}
	for name, s := range meta.Sources {
		if s.Status != orchestration.StatusOK || s.Instance != orchestration.InProcess || s.Attempts != 1 {
			t.Errorf("%s: %+v", name, s)
		}
	}
}

var errBoom = errors.New("boom")

func TestOptionalFailureIsPartial(t *testing.T) {
	meta, err := orchestration.Run(context.Background(),
		orchestration.Call{Name: "main", Required: true, Do: func(context.Context) error { return nil }},
		orchestration.Call{Name: "extra", Do: func(context.Context) error { return errBoom }},
	)
	if err != nil {
		t.Fatalf("an optional failure failed the composite: %v", err)
	}
	if !meta.Partial || meta.Sources["extra"].Status != orchestration.StatusError || meta.Sources["main"].Status != orchestration.StatusOK {
		t.Errorf("meta = %+v", meta)
	}
	if !strings.Contains(meta.Sources["extra"].Error, "boom") {
		t.Errorf("the source's error is not reported: %+v", meta.Sources["extra"])
	}
}

func TestRequiredFailureCancelsTheRest(t *testing.T) {
	meta, err := orchestration.Run(context.Background(),
		orchestration.Call{Name: "main", Required: true, Do: func(context.Context) error { return errBoom }},
		orchestration.Call{Name: "slow", Do: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	)
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Source != "main" || !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want main's SourceError wrapping boom", err)
	}
	if got := meta.Sources["slow"].Status; got != orchestration.StatusSkipped {
		t.Errorf("the cancelled call's status = %s, want skipped", got)
	}
	if p := orchestration.Problem(err); p == nil || p.Status != http.StatusBadGateway {
		t.Errorf("Problem = %+v, want 502", p)
	}
}

func TestTimeout(t *testing.T) {
	_, err := orchestration.Run(context.Background(),
		orchestration.Call{Name: "hung", Required: true, Timeout: time.Millisecond, Do: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
	)
	var se *orchestration.SourceError
	if !errors.As(err, &se) || se.Status != orchestration.StatusTimeout {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if p := orchestration.Problem(err); p == nil || p.Status != http.StatusGatewayTimeout {
		t.Errorf("Problem = %+v, want 504", p)
	}
}

func TestServerTiming(t *testing.T) {
	got := orchestration.ServerTiming(orchestration.Meta{Sources: map[string]orchestration.Source{
		"b": {Status: orchestration.StatusOK, DurationMS: 1.5},
		"a": {Status: orchestration.StatusTimeout, DurationMS: 20},
	}}, 21*time.Millisecond)
	want := "a;desc=timeout;dur=20.000, b;desc=ok;dur=1.500, total;dur=21.000"
	if got != want {
		t.Errorf("ServerTiming = %q, want %q", got, want)
	}
}
