package aio

import (
	"context"
	"fmt"
	"time"
)

// TimeoutError is the error WaitFor returns when its own deadline stopped the
// task. errors.Is(err, context.DeadlineExceeded) reports true for it, as for
// any expired context, and errors.As finds the budget that ran out.
type TimeoutError struct {
	After time.Duration // the budget given to WaitFor
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("aio: timed out after %v", e.After) }

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// WaitFor runs task with a budget of d and returns what it returns. If the
// budget runs out first, the task's ctx is cancelled and, once the task has
// returned, WaitFor returns a *TimeoutError. It is the counterpart of
// asyncio.wait_for.
//
// WaitFor runs the task on the caller's goroutine: the deadline travels in
// ctx, so no second goroutine is needed, and none can be left behind. Python
// 3.12 implements wait_for the same way, as `async with
// asyncio.timeout(t): return await aw` in the caller's task. It follows that
// WaitFor takes as long as the task takes to notice ctx, just as wait_for
// waits for a cancelled task to finish: a task that ignores ctx overruns its
// budget, and there is nothing WaitFor could do about it without leaking the
// goroutine.
//
// A task that returns a nil error is a success even if the deadline passed
// meanwhile. A parent ctx that is done first (cancelled, or with an earlier
// deadline of its own) is not a timeout of this WaitFor: the task's error is
// returned unchanged.
func WaitFor[T any](ctx context.Context, d time.Duration, task Task[T]) (T, error) {
	// The cause is a fresh pointer per call, so comparing with it tells our
	// deadline apart from a parent's, including an enclosing WaitFor's.
	timeout := &TimeoutError{After: d}
	ctx, cancel := context.WithTimeoutCause(ctx, d, timeout)
	defer cancel()

	v, err := task(ctx)
	if err != nil && context.Cause(ctx) == error(timeout) {
		var zero T
		return zero, timeout
	}
	return v, err
}
