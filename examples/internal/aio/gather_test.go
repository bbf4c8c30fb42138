package aio_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aio"
	"github.com/tapehq/tape/examples/internal/aiotest"
)

var errBoom = errors.New("boom")

// TestGatherRequestOrder finishes the tasks in an order chosen by the test,
// different from the order they were given in, without relying on timing:
// each task waits for its own release, and the next one is released only
// once the previous one has finished.
func TestGatherRequestOrder(t *testing.T) {
	aiotest.NoLeak(t)
	const n = 4
	release := make([]chan struct{}, n)
	finished := make(chan int)
	tasks := make([]aio.Task[int], n)
	for i := range n {
		release[i] = make(chan struct{})
		tasks[i] = func(ctx context.Context) (int, error) {
			<-release[i]
			finished <- i
			return 10 * i, nil
		}
	}

	done := make(chan []aio.Result[int])
	go func() { done <- aio.Gather(t.Context(), tasks...) }()
	order := []int{1, 3, 0, 2}
	var completed []int
	for _, i := range order {
		close(release[i])
		completed = append(completed, <-finished)
	}
	results := <-done

	if !slices.Equal(completed, order) {
		t.Fatalf("completion order %v, want %v", completed, order)
	}
	for i, r := range results {
		if r.Err != nil || r.Value != 10*i {
			t.Errorf("results[%d] = %d, %v; want %d, nil (results must follow request order, not completion order)", i, r.Value, r.Err, 10*i)
		}
		if r.Elapsed <= 0 {
			t.Errorf("results[%d].Elapsed = %v, want > 0", i, r.Elapsed)
		}
	}
}

// TestGatherErrorsAsValues checks that one failure leaves the other tasks
// alone: they finish with their values and their ctx is never cancelled.
func TestGatherErrorsAsValues(t *testing.T) {
	aiotest.NoLeak(t)
	failed := make(chan struct{})
	var cancelled atomic.Int32
	ok := func(v int) aio.Task[int] {
		return func(ctx context.Context) (int, error) {
			<-failed
			// Give a wrongly fail-fast Gather time to cancel us. This can
			// only make the test pass wrongly on a very slow machine, never
			// fail wrongly.
			if err := aio.Sleep(ctx, 20*time.Millisecond); err != nil {
				cancelled.Add(1)
				return 0, err
			}
			return v, nil
		}
	}
	fail := func(ctx context.Context) (int, error) {
		close(failed)
		return 0, errBoom
	}

	results := aio.Gather(t.Context(), ok(2), fail, ok(4), ok(3))

	if c := cancelled.Load(); c != 0 {
		t.Errorf("%d tasks were cancelled, want 0", c)
	}
	want := []struct {
		v   int
		err error
	}{{2, nil}, {0, errBoom}, {4, nil}, {3, nil}}
	for i, w := range want {
		if r := results[i]; r.Value != w.v || !errors.Is(r.Err, w.err) || (w.err == nil && r.Err != nil) {
			t.Errorf("results[%d] = %d, %v; want %d, %v", i, r.Value, r.Err, w.v, w.err)
		}
	}
}

func TestGatherParentCancelled(t *testing.T) {
	aiotest.NoLeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results := aio.Gather(ctx, blockUntilDone(nil), blockUntilDone(nil))
	for i, r := range results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("results[%d].Err = %v, want context.Canceled", i, r.Err)
		}
	}
}

func TestGatherNoTasks(t *testing.T) {
	if r := aio.Gather[int](t.Context()); len(r) != 0 {
		t.Errorf("Gather() = %v, want no results", r)
	}
	if r, err := aio.GatherFailFast[int](t.Context()); len(r) != 0 || err != nil {
		t.Errorf("GatherFailFast() = %v, %v; want no results, nil", r, err)
	}
}

// blockUntilDone returns a task that never finishes on its own: it returns
// only when its ctx is cancelled, and counts itself in stopped (if not nil)
// before returning. Tests built on it depend on no timing at all.
func blockUntilDone(stopped *atomic.Int32) aio.Task[int] {
	return func(ctx context.Context) (int, error) {
		<-ctx.Done()
		if stopped != nil {
			stopped.Add(1)
		}
		return 0, ctx.Err()
	}
}

func TestGatherFailFast(t *testing.T) {
	aiotest.NoLeak(t)
	var stopped, sawCause atomic.Int32
	wait := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), errBoom) {
			sawCause.Add(1)
		}
		stopped.Add(1)
		return 0, ctx.Err()
	}
	fail := func(ctx context.Context) (int, error) { return 0, errBoom }

	results, err := aio.GatherFailFast(t.Context(), wait, fail, wait, wait)

	if !errors.Is(err, errBoom) {
		t.Fatalf("GatherFailFast error = %v, want %v", err, errBoom)
	}
	// The three waiting tasks can only have returned by observing ctx.Done,
	// and all three did so before GatherFailFast returned.
	if s := stopped.Load(); s != 3 {
		t.Errorf("%d tasks stopped before GatherFailFast returned, want 3", s)
	}
	if c := sawCause.Load(); c != 3 {
		t.Errorf("%d tasks saw the failure as context.Cause, want 3", c)
	}
	for i, r := range results {
		want := context.Canceled
		if i == 1 {
			want = errBoom
		}
		if !errors.Is(r.Err, want) {
			t.Errorf("results[%d].Err = %v, want %v", i, r.Err, want)
		}
	}
}

// TestGatherFailFastFirstErrorWins makes a cancelled task fail with an error
// of its own, as a real task interrupted mid-request might; the error
// returned must still be the one that caused the cancellation.
func TestGatherFailFastFirstErrorWins(t *testing.T) {
	aiotest.NoLeak(t)
	errLater := errors.New("interrupted")
	first := func(ctx context.Context) (int, error) { return 0, errBoom }
	later := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, errLater
	}
	results, err := aio.GatherFailFast(t.Context(), later, first, later)
	if !errors.Is(err, errBoom) {
		t.Errorf("GatherFailFast error = %v, want %v", err, errBoom)
	}
	if !errors.Is(results[0].Err, errLater) || !errors.Is(results[2].Err, errLater) {
		t.Errorf("results = %+v, want the later errors kept in their results", results)
	}
}

func TestGatherFailFastSuccess(t *testing.T) {
	aiotest.NoLeak(t)
	value := func(v int) aio.Task[int] {
		return func(ctx context.Context) (int, error) { return v, ctx.Err() }
	}
	results, err := aio.GatherFailFast(t.Context(), value(2), value(1), value(4), value(3))
	if err != nil {
		t.Fatalf("GatherFailFast error = %v, want nil", err)
	}
	var got []int
	for _, r := range results {
		got = append(got, r.Value)
	}
	if want := []int{2, 1, 4, 3}; !slices.Equal(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
}
