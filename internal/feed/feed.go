// Package feed defines the contract every market data source implements:
// the simulator, the Alpaca upstream client, replay of recorded days and the
// REST poller.
//
// A Feed's Run blocks until ctx is cancelled or the feed fails for good. It
// sends batches on out and never closes out (the caller owns it), following
// the rules of Prometheus' discovery.Discoverer. Sending may block: that is
// the back-pressure from the core to the source, which must be lossless.
package feed

import (
	"context"

	"github.com/tapehq/tape/internal/market"
)

// Batch is a group of events from one feed plus the feed's clock.
//
// Now is the feed's notion of the current time (ns since the Unix epoch) when
// the batch was cut: wall time for live feeds, simulated time for the
// simulator, recorded time for replay. The bar builder closes minutes by this
// clock, which is what lets an accelerated simulator or a replay produce bars
// at their own speed. Feeds send a batch with no events at least every
// HeartbeatInterval of their clock so bars close when the market is quiet.
//
// The receiver owns Events once the batch is sent: a feed allocates a new
// slice for every batch and never touches a sent one again.
type Batch struct {
	Events []market.Event
	Now    int64
	// Times, when set, holds each event's record time in the record it
	// comes from (an edge following an origin's record): a pipeline that
	// keeps the events' sequence numbers journals them with these times,
	// so its journal equals the origin's. Nil for every live feed.
	Times []int64
}

// HeartbeatInterval is the longest a feed may stay silent on its own clock.
const HeartbeatInterval = 100_000_000 // 100 ms in ns

// Feed is a source of market events.
type Feed interface {
	Run(ctx context.Context, out chan<- Batch) error
}
