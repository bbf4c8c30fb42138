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
//     batch. A full queue never makes the publisher wait.
//   - Queues are bounded in bytes. Encoded messages live in shared chunks;
//     a subscriber is charged for the chunk memory it pins, not just for its
//     message bytes, so "bounded" is true of real memory. A sparse subscriber
//     that pins many chunks for few messages is compacted into a private
//     buffer instead of being charged forever.
//   - Slow consumers: when a subscriber's queue passes ConflateBytes,
//     latest-value channels (quotes) are conflated per symbol (only the newest
//     quote of each symbol is kept, the rest counted as dropped); when a
//     lossless message (trades, bars, statuses, ...) would exceed
//     MaxQueueBytes, the subscriber is kicked with ErrSlowConsumer and the
//     transport answers Alpaca's 407. Nothing is lost silently: every drop and
//     kick is counted.
package hub
