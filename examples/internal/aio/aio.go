package aio

import (
	"context"
	"time"
)

// A Task is one piece of concurrent work: what a coroutine is to asyncio.
//
// A Task must return soon after ctx is done, with ctx.Err() or an error
// wrapping it. Nothing else can stop it: unlike a Python task, which is
// cancelled by an exception thrown in at its next await, a goroutine runs
// until its function returns. context.Cause(ctx) tells the task why it was
// stopped, should it want to say so.
type Task[T any] func(ctx context.Context) (T, error)

// Result is the outcome of one task run by Gather or GatherFailFast.
type Result[T any] struct {
	// Value is what the task returned. It is meaningful only when Err is nil.
	Value T
	// Err is the error the task returned.
	Err error
	// Elapsed is the time from the start of the gather to the moment the
	// task returned, so it includes any delay in scheduling its goroutine.
	Elapsed time.Duration
}

// Sleep pauses the current goroutine for d or until ctx is done, whichever
// comes first. It returns nil after a full sleep and ctx.Err() otherwise.
//
// It is the counterpart of asyncio.sleep. time.Sleep would also let other
// goroutines run (it parks only its own goroutine, never a thread), but it
// cannot be interrupted: a task sleeping in time.Sleep keeps going after its
// ctx is cancelled, which is the leak this package exists to avoid.
func Sleep(ctx context.Context, d time.Duration) error {
	// A ctx that is already done wins even when d <= 0: the select below
	// would otherwise pick at random between two ready cases.
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
