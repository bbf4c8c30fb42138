package aio_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tapehq/tape/examples/internal/aio"
)

// work is the tutorial's `async def work(n): await asyncio.sleep(n); return n`,
// in milliseconds.
func work(n int) aio.Task[int] {
	return func(ctx context.Context) (int, error) {
		if err := aio.Sleep(ctx, time.Duration(n)*time.Millisecond); err != nil {
			return 0, err
		}
		return n, nil
	}
}

func ExampleGather() {
	// The tasks finish in the order 1, 2, 3, 4; the results come back in
	// the order they were asked for.
	for _, r := range aio.Gather(context.Background(), work(2), work(1), work(4), work(3)) {
		fmt.Println(r.Value, r.Err)
	}
	// Output:
	// 2 <nil>
	// 1 <nil>
	// 4 <nil>
	// 3 <nil>
}

func ExampleGatherFailFast() {
	fail := func(ctx context.Context) (int, error) {
		return 0, errors.New("quote request refused")
	}
	// work(3_600_000) would take an hour; the failure cancels it at once.
	results, err := aio.GatherFailFast(context.Background(), work(3_600_000), fail, work(3_600_000))
	fmt.Println("first error:", err)
	for i, r := range results {
		fmt.Println(i, r.Err)
	}
	// Output:
	// first error: quote request refused
	// 0 context canceled
	// 1 quote request refused
	// 2 context canceled
}

func ExampleWaitFor() {
	// try: await asyncio.wait_for(work(10), timeout=4)
	// except asyncio.TimeoutError: print("timeout")
	_, err := aio.WaitFor(context.Background(), 4*time.Millisecond, work(10_000))
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("timeout:", err)
	}
	// Output:
	// timeout: aio: timed out after 4ms
}
