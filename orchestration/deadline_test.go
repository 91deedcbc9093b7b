package orchestration

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestALazyDeadlineAnswersAsContextWithTimeoutDoes(t *testing.T) {
	t.Run("its deadline passes unasked", func(t *testing.T) {
		ctx, cancel := withTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		d, ok := ctx.Deadline()
		if !ok || ctx.Err() != nil {
			t.Fatalf("deadline %v %v, err %v: want a deadline, no error yet", d, ok, ctx.Err())
		}
		time.Sleep(time.Until(d)) // the event awaited is the time itself
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("err after the deadline = %v", ctx.Err())
		}
		select {
		case <-ctx.Done(): // asked for after the deadline: closed already
		default:
			t.Error("Done is open after the deadline")
		}
	})
	t.Run("Done closes at the deadline", func(t *testing.T) {
		ctx, cancel := withTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("err = %v", ctx.Err())
		}
	})
	t.Run("the parent's cancellation", func(t *testing.T) {
		for _, asked := range []bool{false, true} {
			parent, stop := context.WithCancel(context.Background())
			ctx, cancel := withTimeout(parent, time.Hour)
			var done <-chan struct{}
			if asked {
				done = ctx.Done()
			}
			stop()
			if asked {
				<-done
			}
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("Done asked %v: err = %v, want canceled", asked, ctx.Err())
			}
			<-ctx.Done()
			cancel()
		}
	})
	t.Run("cancel", func(t *testing.T) {
		for _, asked := range []bool{false, true} {
			ctx, cancel := withTimeout(context.Background(), time.Hour)
			if asked {
				ctx.Done()
			}
			cancel()
			cancel()
			<-ctx.Done()
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("Done asked %v: err = %v, want canceled", asked, ctx.Err())
			}
		}
	})
	t.Run("a parent that ends first", func(t *testing.T) {
		parent, stop := context.WithTimeout(context.Background(), time.Second)
		defer stop()
		ctx, cancel := withTimeout(parent, time.Hour)
		defer cancel()
		if d, _ := ctx.Deadline(); d.After(time.Now().Add(time.Second)) {
			t.Errorf("deadline %v: want the parent's, within a second", d)
		}
	})
	t.Run("the cause", func(t *testing.T) {
		live, stopLive := context.WithCancel(context.Background()) // as a plan's context is
		defer stopLive()
		ctx, cancel := withTimeout(live, 20*time.Millisecond)
		defer cancel()
		d, _ := ctx.Deadline()
		time.Sleep(time.Until(d))
		if ctx.Err() == nil || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			t.Errorf("err %v, cause %v; want the deadline both", ctx.Err(), context.Cause(ctx))
		}
		why := errors.New("the page was cancelled")
		parent, stop := context.WithCancelCause(context.Background())
		ctx, cancel = withTimeout(parent, time.Hour)
		defer cancel()
		stop(why)
		if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != why {
			t.Errorf("err %v, cause %v; want canceled, because %v", ctx.Err(), context.Cause(ctx), why)
		}
	})
	t.Run("values", func(t *testing.T) {
		type key struct{}
		ctx, cancel := withTimeout(context.WithValue(context.Background(), key{}, "v"), time.Hour)
		defer cancel()
		if ctx.Value(key{}) != "v" {
			t.Error("the parent's value is lost")
		}
	})
}

// TestALazyDeadlineIsSafeForConcurrentUse is for the race detector.
func TestALazyDeadlineIsSafeForConcurrentUse(t *testing.T) {
	for range 100 {
		ctx, cancel := withTimeout(context.Background(), time.Millisecond)
		var wg sync.WaitGroup
		wg.Go(func() { <-ctx.Done() })
		wg.Go(func() { _ = ctx.Err() })
		wg.Go(cancel)
		wg.Wait()
		if ctx.Err() == nil {
			t.Fatal("no error once canceled")
		}
	}
}
