// Package market holds the value types that flow through Tape: stock
// trades, quotes, bars, trading statuses, LULD bands, corrections, cancels
// and imbalances; crypto trades, quotes, bars, order books and perpetual
// futures pricing; option trades and quotes; news — wrapped in an Event that
// carries the hub-wide sequence number.
//
// The types are designed for the hot path. An Event is a flat value (no
// per-event heap allocation for the common kinds: trades, quotes and bars of
// stocks, trades and quotes of crypto and options), timestamps are int64
// nanoseconds since the Unix epoch (UTC), and exchange, tape and condition
// codes are bytes, because every US equities and OPRA code is a single
// character. Rare or variable-size kinds (statuses, corrections, crypto
// bars, order books, news, ...) hang off a pointer so they do not bloat the
// common case.
//
// Each asset class (Class) has kinds and channels of its own, even where
// Alpaca's wire names coincide ("t", "trades"): see Kind and Channel.
//
// market imports only the standard library; every other Tape package points
// toward it.
package market
