package partition

import (
	"context"
	"fmt"
	"sync"
)

// UnavailableError reports a partition of a service that did not answer: its
// keys fail, and a query that needs it is partial, while the other
// partitions go on serving. It is the service's failure for those keys
// only, not the whole service's.
type UnavailableError struct {
	Service   string // "users"
	Partition string // the partition's name: "E-P"
	Err       error  // why
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("partition %s of %s did not answer: %v", e.Partition, e.Service, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// HTTPStatus and ProblemCode make it a 503 partition_unavailable
// (problem.Coded).
func (e *UnavailableError) HTTPStatus() int     { return 503 }
func (e *UnavailableError) ProblemCode() string { return "partition_unavailable" }

// Answer is what one partition answered to a query that spans several,
// as _meta reports it.
type Answer struct {
	Partition string `json:"partition"`
	// Count is how many records it contributed.
	Count int `json:"count"`
	// Error says why it did not answer; empty when it did.
	Error string `json:"error,omitempty"`
}

// Result is one partition's result of a Gather.
type Result[T any] struct {
	Index int
	Value T
	Err   error
}

// Gather calls call for each partition in which at once, and returns their
// results in the order of which.
func Gather[T any](ctx context.Context, which []int, call func(ctx context.Context, i int) (T, error)) []Result[T] {
	out := make([]Result[T], len(which))
	if len(which) == 1 { // no goroutine for a keyed call
		v, err := call(ctx, which[0])
		out[0] = Result[T]{Index: which[0], Value: v, Err: err}
		return out
	}
	var wg sync.WaitGroup
	for k, i := range which {
		wg.Go(func() {
			v, err := call(ctx, i)
			out[k] = Result[T]{Index: i, Value: v, Err: err}
		})
	}
	wg.Wait()
	return out
}
