package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/atrium-bff/atrium/orchestration"
	"github.com/atrium-bff/atrium/orchestration/composite"
	"github.com/atrium-bff/atrium/services/catalog"
)

func TestServerTiming(t *testing.T) {
	got := serverTiming(orchestration.Meta{Sources: map[string]orchestration.Source{
		"b": {Status: orchestration.StatusOK, DurationMS: 1.5},
		"a": {Status: orchestration.StatusTimeout, DurationMS: 20},
	}}, 21*time.Millisecond)
	want := "a;desc=timeout;dur=20.000, b;desc=ok;dur=1.500, total;dur=21.000"
	if got != want {
		t.Errorf("serverTiming = %q, want %q", got, want)
	}
}

func TestCompositeProblem(t *testing.T) {
	boom := errors.New("boom")
	source := func(st orchestration.Status) error {
		return &orchestration.SourceError{Source: "product", Status: st, Err: boom}
	}
	failedAt := &orchestration.SagaError{Saga: "checkout", Step: composite.StepOrder, Err: boom,
		Compensated: []string{composite.CompRefund, composite.CompRelease},
		Meta:        orchestration.Meta{Sources: map[string]orchestration.Source{composite.StepOrder: {Status: orchestration.StatusTimeout}}}}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"a required source failed", source(orchestration.StatusError), http.StatusBadGateway, "source_failed"},
		{"it timed out", source(orchestration.StatusTimeout), http.StatusGatewayTimeout, "source_timeout"},
		{"its breaker is open", source(orchestration.StatusCircuitOpen), http.StatusServiceUnavailable, "source_circuit_open"},
		{"a missing product stays a 404", fmt.Errorf("product p9: %w", catalog.ErrNotFound), http.StatusNotFound, "product_not_found"},
		{"a reused key", fmt.Errorf("key k: %w", composite.ErrKeyReused), http.StatusConflict, "idempotency_key_reused"},
		{"a saga step timed out", failedAt, http.StatusGatewayTimeout, "source_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compositeProblem(tc.err)
			if p == nil || p.Status != tc.status || p.Code != tc.code {
				t.Fatalf("problem %+v, want %d %s", p, tc.status, tc.code)
			}
		})
	}
	p := compositeProblem(failedAt)
	if p.Ext["step"] != composite.StepOrder || fmt.Sprint(p.Ext["compensated"]) != "[refund_payment release_reservation]" ||
		fmt.Sprint(p.Ext["pending"]) != "[]" {
		t.Errorf("a failed checkout's problem: %+v", p.Ext)
	}
	if compositeProblem(boom) != nil {
		t.Error("an error that is not a composite's was mapped")
	}
}
