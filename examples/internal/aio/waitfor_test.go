package aio_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/tapehq/tape/examples/internal/aio"
	"github.com/tapehq/tape/examples/internal/aiotest"
)

func TestWaitForTimeout(t *testing.T) {
	aiotest.NoLeak(t)
	before := runtime.NumGoroutine()
	exited := make(chan struct{})
	var cause error
	worker := func(ctx context.Context) (int, error) {
		defer close(exited)
		// Needs far more than its budget: it can only return by observing
		// ctx, which is the point.
		if err := aio.Sleep(ctx, time.Hour); err != nil {
			cause = context.Cause(ctx)
			return 0, err
		}
		return 1, nil
	}

	v, err := aio.WaitFor(t.Context(), 10*time.Millisecond, worker)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	var te *aio.TimeoutError
	if !errors.As(err, &te) || te.After != 10*time.Millisecond {
		t.Errorf("WaitFor error = %#v, want *aio.TimeoutError{After: 10ms}", err)
	}
	if v != 0 {
		t.Errorf("WaitFor value = %d, want the zero value on timeout", v)
	}
	if cause != err {
		t.Errorf("worker saw cause %v, want the returned timeout %v", cause, err)
	}
	select {
	case <-exited:
	default:
		t.Fatal("WaitFor returned while the worker was still running")
	}
	// WaitFor runs the worker on this goroutine, so no goroutine was ever
	// started; NoLeak checks the same over the whole test.
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after WaitFor, %d before", n, before)
	}
}

func TestWaitFor(t *testing.T) {
	errOwn := errors.New("own failure")
	tests := []struct {
		name    string
		parent  func(context.Context) (context.Context, context.CancelFunc)
		task    aio.Task[int]
		budget  time.Duration // given to WaitFor; 0 means an hour
		want    int
		wantErr error // matched with errors.Is
		timeout bool  // whether the error must be an *aio.TimeoutError
	}{
		{
			name: "in time",
			task: func(ctx context.Context) (int, error) { return 7, nil },
			want: 7,
		},
		{
			name:    "task fails on its own",
			task:    func(ctx context.Context) (int, error) { return 0, errOwn },
			wantErr: errOwn,
		},
		{
			name:    "timeout",
			task:    blockUntilDone(nil),
			budget:  time.Millisecond,
			wantErr: context.DeadlineExceeded,
			timeout: true,
		},
		{
			// Like wait_for, a task that completes despite the deadline is
			// a success.
			name: "succeeds after the deadline",
			task: func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 42, nil
			},
			budget: time.Millisecond,
			want:   42,
		},
		{
			name: "parent cancelled",
			parent: func(ctx context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx, cancel
			},
			task:    blockUntilDone(nil),
			wantErr: context.Canceled,
		},
		{
			name: "parent deadline first",
			parent: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, time.Millisecond)
			},
			task:    blockUntilDone(nil),
			wantErr: context.DeadlineExceeded,
		},
		{
			name:   "nested, outer budget shorter",
			budget: time.Millisecond,
			task: func(ctx context.Context) (int, error) {
				// The inner WaitFor is stopped by the outer deadline, so it
				// must not claim the timeout as its own; the outer one does.
				v, err := aio.WaitFor(ctx, time.Hour, blockUntilDone(nil))
				var te *aio.TimeoutError
				if errors.As(err, &te) {
					return 0, errors.New("inner WaitFor reported the outer timeout as its own")
				}
				return v, err
			},
			wantErr: context.DeadlineExceeded,
			timeout: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aiotest.NoLeak(t)
			ctx := t.Context()
			if tt.parent != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.parent(ctx)
				defer cancel()
			}
			budget := tt.budget
			if budget == 0 {
				budget = time.Hour
			}

			v, err := aio.WaitFor(ctx, budget, tt.task)

			if v != tt.want {
				t.Errorf("value = %d, want %d", v, tt.want)
			}
			if !errors.Is(err, tt.wantErr) { // errors.Is(err, nil) means err == nil
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			var te *aio.TimeoutError
			if got := errors.As(err, &te); got != tt.timeout {
				t.Errorf("error %v is *aio.TimeoutError: %v, want %v", err, got, tt.timeout)
			}
		})
	}
}
