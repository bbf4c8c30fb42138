// Command gather is lesson 2 of docs/walkthrough.md: asyncio.gather in Go,
// in three variants.
//
//	go run ./examples/gather              # about 9s
//	go run ./examples/gather -scale 10ms  # the same, 100 times faster
//
// The three variants, run one after the other:
//
//  1. gather(work(2), work(1), work(4), work(3)): four concurrent waits. They
//     finish in the order 1, 2, 3, 4, but the results come back in the order
//     they were asked for, [2 1 4 3], each with its elapsed time.
//  2. The same with fail(1) in place of work(1), errors as values
//     (return_exceptions=True): the failure is one of the results and the
//     other tasks run to completion.
//  3. The same tasks, fail fast: the failure cancels the other tasks, which
//     stop at once, and is returned as the error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
		fmt.Fprintln(os.Stderr, "gather:", err)
		os.Exit(1)
	}
}

// The section headers, printed as each part starts.
const (
	headOrdered  = "gather(work(2), work(1), work(4), work(3))"
	headValues   = "gather(work(2), fail(1), work(4), work(3), return_exceptions=True)"
	headFailFast = "fail fast (errgroup, asyncio.TaskGroup): work(2), fail(1), work(4), work(3)"
)

// errFailed is what fail's task returns.
var errFailed = errors.New("failed on purpose")

// run is the lesson: it runs the three parts in turn and writes the timeline
// to w. A lesson second lasts scale.
func run(ctx context.Context, w io.Writer, scale time.Duration) error {
	if scale <= 0 {
		return fmt.Errorf("scale must be positive, got %v", scale)
	}
	l := lesson{tl: aio.NewTimeline(w), scale: scale}

	// 1. Ordered results.
	l.tl.Printf("%s", headOrdered)
	results := aio.Gather(ctx, l.work(2), l.work(1), l.work(4), l.work(3))
	if err := ctx.Err(); err != nil {
		return err
	}
	values := make([]int, len(results))
	for i, r := range results {
		values[i] = r.Value
	}
	l.tl.Printf("results in the order asked: %v", values)
	l.print(results)

	// 2. Errors as values: nothing is cancelled.
	l.tl.Printf("%s", headValues)
	results = aio.Gather(ctx, l.work(2), l.fail(1), l.work(4), l.work(3))
	if err := ctx.Err(); err != nil {
		return err
	}
	l.print(results)

	// 3. Fail fast: the first error cancels the rest.
	l.tl.Printf("%s", headFailFast)
	results, first := aio.GatherFailFast(ctx, l.work(2), l.fail(1), l.work(4), l.work(3))
	if err := ctx.Err(); err != nil {
		return err
	}
	l.tl.Printf("first error: %v", first)
	l.print(results)
	return l.tl.Err()
}

// lesson holds what the tasks share.
type lesson struct {
	tl    *aio.Timeline
	scale time.Duration // length of a lesson second
}

// work is the tutorial's `async def work(n): await asyncio.sleep(n); return n`.
// It says when it finishes, or why it was stopped: context.Cause reports the
// error that made GatherFailFast cancel it.
func (l lesson) work(n int) aio.Task[int] {
	return func(ctx context.Context) (int, error) {
		if err := aio.Sleep(ctx, time.Duration(n)*l.scale); err != nil {
			l.tl.Printf("work(%d) cancelled: %v", n, context.Cause(ctx))
			return 0, err
		}
		l.tl.Printf("work(%d) finished", n)
		return n, nil
	}
}

// fail waits n lesson seconds, then fails.
func (l lesson) fail(n int) aio.Task[int] {
	return func(ctx context.Context) (int, error) {
		if err := aio.Sleep(ctx, time.Duration(n)*l.scale); err != nil {
			return 0, err
		}
		l.tl.Printf("fail(%d) failed", n)
		return 0, fmt.Errorf("fail(%d): %w", n, errFailed)
	}
}

// print writes one line per result, in request order.
func (l lesson) print(results []aio.Result[int]) {
	for i, r := range results {
		if r.Err != nil {
			l.tl.Printf("[%d] after %v: error: %v", i, r.Elapsed.Round(time.Millisecond), r.Err)
			continue
		}
		l.tl.Printf("[%d] after %v: %d", i, r.Elapsed.Round(time.Millisecond), r.Value)
	}
}
