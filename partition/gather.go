package partition

import (
	"context"
	"errors"
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

// Router is what a partitioned service's implementation shares: its name,
// its scheme, and how to tell an answer (a domain error: not found,
// invalid) from a partition's failure.
type Router struct {
	Service string
	Scheme  Scheme
	// Answer reports whether err is the service's answer rather than a
	// failure to answer.
	Answer func(err error) bool
}

// NewRouter returns the Router of service over the n parts of scheme; n
// other than the scheme's partitions is a wiring error, and panics.
func NewRouter(service string, scheme Scheme, n int, answer func(error) bool) Router {
	if n != scheme.Len() {
		panic(fmt.Sprintf("%s: %d parts for the %d partitions of %s", service, n, scheme.Len(), scheme))
	}
	return Router{Service: service, Scheme: scheme, Answer: answer}
}

// Failed wraps partition i's failure to answer in an *UnavailableError; an
// answer, and the caller's own end, stay as they are.
func (r Router) Failed(i int, err error) error {
	if err == nil || r.Answer(err) || errors.Is(err, context.Canceled) {
		return err
	}
	return &UnavailableError{Service: r.Service, Partition: r.Scheme.Name(i), Err: err}
}

// First asks the partitions in which at once and returns the first value
// one has. An answer that miss accepts (not found, say) lets the others
// answer; any other answer is returned at once. When none has the value
// but one failed, the value may be there: that failure. Otherwise the
// last miss.
func First[T any](ctx context.Context, r Router, which []int, miss func(error) bool, call func(ctx context.Context, i int) (T, error)) (T, error) {
	var (
		zero            T
		failed, missing error
	)
	for _, res := range Gather(ctx, which, call) {
		switch err := r.Failed(res.Index, res.Err); {
		case err == nil:
			return res.Value, nil
		case miss(err):
			missing = err
		case r.Answer(err):
			return zero, err
		case failed == nil:
			failed = err
		}
	}
	if failed != nil {
		return zero, failed
	}
	return zero, missing
}

// Merge asks the partitions in which at once and returns their items
// together, with what each answered. A partition that fails makes the
// merge partial; when every one fails, Merge fails with the first
// failure; an answer (an invalid query) fails it at once.
func Merge[T any](ctx context.Context, r Router, which []int, call func(ctx context.Context, i int) ([]T, error)) (items []T, answers []Answer, partial bool, err error) {
	results := Gather(ctx, which, call)
	var failed error
	items = []T{}
	for _, res := range results {
		a := Answer{Partition: r.Scheme.Name(res.Index), Count: len(res.Value)}
		if res.Err != nil {
			if r.Answer(res.Err) {
				return nil, nil, false, res.Err
			}
			ferr := r.Failed(res.Index, res.Err)
			if failed == nil {
				failed = ferr
			}
			a.Error, partial = ferr.Error(), true
		}
		items = append(items, res.Value...)
		answers = append(answers, a)
	}
	if failed != nil && allFailed(results) {
		return nil, nil, false, failed
	}
	return items, answers, partial, nil
}

func allFailed[T any](rs []Result[T]) bool {
	for _, r := range rs {
		if r.Err == nil {
			return false
		}
	}
	return true
}
