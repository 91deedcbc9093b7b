package orchestration_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atrium-bff/atrium/orchestration"
)

func TestEachIsBoundedAndOrdered(t *testing.T) {
	var running, peak atomic.Int32
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	got, err := orchestration.Each(context.Background(), ids, 2, func(_ context.Context, id string) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return strings.ToUpper(id), nil
	})
	if err != nil || strings.Join(got, "") != "ABCDEFG" {
		t.Fatalf("Each = %v, %v", got, err)
	}
	if peak.Load() > 2 {
		t.Errorf("%d calls ran at once, limit 2", peak.Load())
	}
	_, err = orchestration.Each(context.Background(), ids, 3, func(_ context.Context, id string) (string, error) {
		if id == "c" {
			return "", errBoom
		}
		return id, nil
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func ExampleEach() {
	names, _ := orchestration.Each(context.Background(), []string{"p001", "p002"}, 4,
		func(_ context.Context, id string) (string, error) { return "product " + id, nil })
	fmt.Println(names)
	// Output: [product p001 product p002]
}
