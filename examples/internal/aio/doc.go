// Package aio holds the few concurrency helpers the walkthrough lessons need:
// Go counterparts of the parts of Python's asyncio that Tape's seed tutorial
// uses. See docs/walkthrough.md for the lesson-by-lesson comparison.
//
//	asyncio                                       aio
//	asyncio.sleep(d)                              Sleep(ctx, d)
//	coroutine, awaitable                          Task[T]: func(ctx) (T, error)
//	asyncio.gather(*aws, return_exceptions=True)  Gather(ctx, tasks...)
//	asyncio.TaskGroup (Python 3.11+)              GatherFailFast(ctx, tasks...)
//	asyncio.wait_for(aw, timeout)                 WaitFor(ctx, d, task)
//	print(f"{time.strftime('%X')} ...")           Timeline.Printf(...)
//
// Two rules hold everywhere in the package, and they are the main difference
// from asyncio:
//
//   - Cancellation is cooperative and explicit. Python cancels a task by
//     throwing CancelledError into it at its next await; Go cannot reach into
//     a goroutine at all. A Task receives a context.Context and must return
//     soon after ctx.Done() is closed. Sleep is the ctx-aware sleep to use
//     instead of time.Sleep, which cannot be interrupted.
//   - Every goroutine has an owner that waits for it. Gather and
//     GatherFailFast return only after every task they started has returned,
//     and WaitFor runs its task on the caller's goroutine, so no helper leaves
//     work running behind the caller's back.
//
// Results come back in the order the tasks were given (index i of the result
// belongs to task i), however the tasks finished: each goroutine writes only
// its own slot of a pre-sized slice. A channel would deliver them in
// completion order instead.
//
// The package is standard library only; GatherFailFast is a few lines of what
// golang.org/x/sync/errgroup does, written out so the examples add no
// dependency to Tape's module.
package aio
