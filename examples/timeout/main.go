// Command timeout is lesson 3 of docs/walkthrough.md: asyncio.wait_for in
// Go.
//
//	go run ./examples/timeout              # about 8s
//	go run ./examples/timeout -scale 10ms  # the same, 100 times faster
//
// The lesson has two parts:
//
//  1. wait_for(work(10), timeout=4): the work is given 4 seconds, needs 10,
//     is cancelled at 4 and the caller gets a timeout error. The work really
//     stops: it observes its ctx, says so and returns, and nothing of it is
//     left running.
//  2. The same budget per task inside a gather, the shape of a concurrent
//     backfill with a timeout per request: work(10) times out, work(2)
//     finishes, and neither affects the other.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/tapehq/tape/examples/internal/aio"
)

func main() {
	scale := flag.Duration("scale", time.Second, "length of one lesson `second`; -scale 10ms runs the lesson 100x faster")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, *scale)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "timeout:", err)
		os.Exit(1)
	}
}

// budget is the timeout given to each piece of work, in lesson seconds.
const budget = 4

// run is the lesson: it runs the two parts in turn and writes the timeline
// to w. A lesson second lasts scale.
func run(ctx context.Context, w io.Writer, scale time.Duration) error {
	if scale <= 0 {
		return fmt.Errorf("scale must be positive, got %v", scale)
	}
	l := &lesson{tl: aio.NewTimeline(w), scale: scale}
	d := budget * scale

	// 1. try: await asyncio.wait_for(work(10), timeout=4)
	//    except asyncio.TimeoutError: print("timeout")
	l.tl.Printf("wait_for(work(10), timeout=%v)", d)
	v, err := aio.WaitFor(ctx, d, l.work(10))
	switch {
	case ctx.Err() != nil:
		return ctx.Err() // interrupted: not the lesson's timeout
	case errors.Is(err, context.DeadlineExceeded):
		l.tl.Printf("timeout: %v", err)
	case err != nil:
		return err
	default:
		l.tl.Printf("result: %d", v)
	}

	// 2. A budget per task: gather(wait_for(work(10), 4), wait_for(work(2), 4)).
	l.tl.Printf("gather(wait_for(work(10), timeout=%v), wait_for(work(2), timeout=%v))", d, d)
	results := aio.Gather(ctx, withTimeout(d, l.work(10)), withTimeout(d, l.work(2)))
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, r := range results {
		if r.Err != nil {
			l.tl.Printf("[%d] after %v: error: %v", i, r.Elapsed.Round(time.Millisecond), r.Err)
			continue
		}
		l.tl.Printf("[%d] after %v: %d", i, r.Elapsed.Round(time.Millisecond), r.Value)
	}

	// Every work has returned, the timed-out ones included: WaitFor runs
	// its task on the calling goroutine and Gather waits for its
	// goroutines, so this is 0 by construction. A translation of wait_for
	// as `go work(); select { case <-done: case <-time.After(d): }` would
	// leave the work running here.
	l.tl.Printf("work still running: %d", l.running.Load())
	return l.tl.Err()
}

// lesson holds what the tasks share.
type lesson struct {
	tl      *aio.Timeline
	scale   time.Duration // length of a lesson second
	running atomic.Int32  // work calls that have not returned yet
}

// work is the tutorial's `async def work(n): await asyncio.sleep(n); return n`.
// When its ctx is cancelled it stops, reports why (context.Cause is WaitFor's
// timeout) and returns.
func (l *lesson) work(n int) aio.Task[int] {
	return func(ctx context.Context) (int, error) {
		l.running.Add(1)
		defer l.running.Add(-1)
		start := time.Now()
		if err := aio.Sleep(ctx, time.Duration(n)*l.scale); err != nil {
			l.tl.Printf("work(%d) stopped after %v: %v", n, time.Since(start).Round(time.Millisecond), context.Cause(ctx))
			return 0, err
		}
		l.tl.Printf("work(%d) finished", n)
		return n, nil
	}
}

// withTimeout turns a task into one with a budget of d, so that each task
// of a gather can have its own.
func withTimeout[T any](d time.Duration, task aio.Task[T]) aio.Task[T] {
	return func(ctx context.Context) (T, error) { return aio.WaitFor(ctx, d, task) }
}
