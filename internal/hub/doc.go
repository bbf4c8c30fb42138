// Package hub fans market events out to subscribers.
//
// One goroutine publishes (the core's ingest loop); any number of
// subscribers consume, each through its own bounded queue. The design
// follows the rules PRODUCT.md sets for the hot path:
//
//   - Encode once, share the bytes. For each event, the hub encodes it at
//     most once per wire format, and only if some subscriber of that format
//     wants it. Subscribers get references to the shared bytes; per-subscriber
//     work is filtering and queueing, not encoding.
//   - The publisher never blocks. Deliveries are collected per subscriber for
//     the whole batch and handed over under the subscriber's mutex once per
//     batch. A full queue never makes the publisher wait. A transport is
//     told when a queue goes from empty to non-empty (Ready, or a Notify
//     function that lets a few writer goroutines serve many subscribers).
//   - Queues are bounded in bytes, and the bound covers everything a
//     subscriber pins: the shared chunks its queued messages reference
//     (each chunk charged whole, once), its queue slots, private copies
//     (conflated quotes, compacted messages), messages taken and not yet
//     released, and what its transport declares with Charge (a partly
//     written frame, control replies). The charge is never less than the
//     memory actually held, so N subscribers never hold more than N times
//     the bound. Consecutive messages of a chunk queue as one item (a run),
//     so a subscriber of "*" needs a 24-byte slot per chunk, not per
//     message. A sparse subscriber that pins many chunks for few messages
//     is compacted into a private buffer instead of being charged forever
//     (only when that halves its charge: a dense queue's copy would turn
//     shared memory into private memory).
//   - Slow consumers: when a subscriber's queue passes ConflateBytes,
//     latest-value channels (quotes) are conflated per symbol (only the newest
//     quote of each symbol is kept, the rest counted as dropped); when a
//     lossless message (trades, bars, statuses, ...) would exceed
//     MaxQueueBytes, the subscriber is kicked with ErrSlowConsumer and the
//     transport answers Alpaca's 407. Nothing is lost silently: every drop and
//     kick is counted.
//
// Subscribers of the iex feed subscribe to the IEX channels
// (market.Channel.IEX): IEX quotes and bars are kinds of their own, and a
// stock trade, correction or cancel printed on IEX (market.Event.OnIEX) is
// delivered to the subscribers of market.ChanIEXTrades too, with the same
// shared encoding.
package hub
