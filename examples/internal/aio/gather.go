package aio

import (
	"context"
	"sync"
	"time"
)

// Gather runs every task on its own goroutine and waits for all of them.
// Result i belongs to tasks[i], whatever order the tasks finished in.
//
// A failing task does not affect the others: its error is kept in its Result
// and the rest run to completion, as with asyncio.gather(...,
// return_exceptions=True). Cancelling ctx cancels every task; Gather still
// waits for all of them to return.
func Gather[T any](ctx context.Context, tasks ...Task[T]) []Result[T] {
	results := make([]Result[T], len(tasks))
	start := time.Now()
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() {
			v, err := task(ctx)
			// Each goroutine writes only its own element, so no lock is
			// needed, and wg.Wait orders the write before the caller's read.
			// This is what keeps results in request order; a channel would
			// hand them over in completion order.
			results[i] = Result[T]{Value: v, Err: err, Elapsed: time.Since(start)}
		})
	}
	wg.Wait()
	return results
}

// GatherFailFast is Gather that gives up at the first failure: the first task
// to return an error cancels the context of all the others, and that error
// is returned once every task has returned. It is what
// golang.org/x/sync/errgroup.WithContext does, and what asyncio.TaskGroup
// does in Python 3.11 and later.
//
// The results are still all there, in request order: the cancelled tasks
// report whatever they returned on seeing ctx done (usually
// context.Canceled), and context.Cause gives them the first error as the
// reason. A nil error means every task succeeded.
//
// Unlike Python's default asyncio.gather, which raises the first exception
// and leaves the other tasks running unsupervised, GatherFailFast never
// returns while a task is still running.
func GatherFailFast[T any](ctx context.Context, tasks ...Task[T]) ([]Result[T], error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		once  sync.Once
		first error
	)
	results := make([]Result[T], len(tasks))
	start := time.Now()
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() {
			v, err := task(ctx)
			results[i] = Result[T]{Value: v, Err: err, Elapsed: time.Since(start)}
			if err != nil {
				// Only the first failure counts: the tasks it cancels will
				// fail too, with context.Canceled, and must not replace it.
				once.Do(func() {
					first = err
					cancel(err)
				})
			}
		})
	}
	wg.Wait()
	return results, first
}
