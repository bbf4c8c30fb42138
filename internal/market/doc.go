// Package market holds the value types that flow through Tape: trades,
// quotes, bars, trading statuses, LULD bands, corrections, cancels and
// imbalances, wrapped in an Event that carries the hub-wide sequence number.
//
// The types are designed for the hot path. An Event is a flat value (no
// per-event heap allocation for the common kinds: trades, quotes and bars),
// timestamps are int64 nanoseconds since the Unix epoch (UTC), and exchange,
// tape and condition codes are bytes, because every US equities code is a
// single character. Rare kinds (statuses, corrections, ...) hang off a
// pointer so they do not bloat the common case.
//
// market imports only the standard library; every other Tape package points
// toward it.
package market
