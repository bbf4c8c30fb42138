// Command tasks is lesson 1 of docs/walkthrough.md: the tutorial's
// lets_wait, run as three concurrent tasks that each wait twice.
//
//	go run ./examples/tasks              # waits of 5s, 10s and 4s; about 20s in all
//	go run ./examples/tasks -scale 10ms  # the same timeline, 100 times faster
//
// Each task prints a line when it starts, between its two waits and when it
// is done. The lines interleave, and the run takes about twice the longest
// wait (20 lesson seconds), not the sum of all the waits (38): while one
// goroutine waits, the others run. Ctrl-C cancels the waits.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
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
		fmt.Fprintln(os.Stderr, "tasks:", err)
		os.Exit(1)
	}
}

// waits are the tutorial's, in lesson seconds, in the order the tasks start.
var waits = []int{5, 10, 4}

// run is the lesson: it starts one goroutine per wait, waits for all of them
// and writes the timeline to w. A lesson second lasts scale.
func run(ctx context.Context, w io.Writer, scale time.Duration) error {
	if scale <= 0 {
		return fmt.Errorf("scale must be positive, got %v", scale)
	}
	tl := aio.NewTimeline(w)

	errs := make([]error, len(waits))
	var wg sync.WaitGroup
	for i, n := range waits {
		// asyncio.create_task(lets_wait(n)): the goroutine is runnable at
		// once and wg owns it. Unlike asyncio, which starts tasks in
		// creation order, Go makes no promise about which goroutine runs
		// first, so the three "start" lines may come in any order.
		wg.Go(func() { errs[i] = letsWait(ctx, tl, time.Duration(n)*scale) })
	}
	// await t1; await t2; await t3: past this line all three have returned.
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // all the same ctx error; one is enough
		}
	}

	longest, sum := 0, 0
	for _, n := range waits {
		longest, sum = max(longest, n), sum+n
	}
	tl.Printf("all done after %v: about twice the longest wait (%v), not the sum of all waits (%v)",
		tl.Since().Round(time.Millisecond), 2*time.Duration(longest)*scale, 2*time.Duration(sum)*scale)
	return tl.Err()
}

// letsWait is the tutorial's lets_wait(wt): wait twice, printing around each
// wait. aio.Sleep rather than time.Sleep, so that a cancelled ctx ends the
// wait instead of leaving the goroutine sleeping after main wants to exit.
func letsWait(ctx context.Context, tl *aio.Timeline, wt time.Duration) error {
	tl.Printf("start waiting %v", wt)
	if err := aio.Sleep(ctx, wt); err != nil {
		return err
	}
	tl.Printf("waited %v, waiting again", wt)
	if err := aio.Sleep(ctx, wt); err != nil {
		return err
	}
	tl.Printf("done %v", wt)
	return nil
}
