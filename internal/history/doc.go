// Package history is Tape's history store: the queryable copy of every
// trade, quote, minute bar and daily bar that went through the ingest
// goroutine, answering the Alpaca REST history API (trades, quotes, bars of
// any timeframe, latest values and snapshots) by symbol and time range.
//
// The journal (package journal) is the source of truth; this store is
// derived from it and can always be rebuilt by replaying it. That shapes
// every durability decision below: the store never needs its own
// write-ahead log, only a way to say how far it is durable (AppliedSeq), so
// that after a restart the journal is replayed from AppliedSeq()+1.
//
// # Writing
//
// Apply is called by the ingest goroutine with sequenced events. It only
// copies them into per-symbol memory tails (trades and quotes as the same
// 48-byte records the files hold, bars as small values) under one mutex, so
// it costs about 200 ns per event and never waits on disk. Run, the
// flusher, writes the tails out every FlushInterval (200 ms), syncs, and
// writes a checkpoint; see flush.go for the steps and why they are ordered
// so. Queries read both the files and the tails, so an event is visible as
// soon as Apply returns, flushed or not.
//
// # Files
//
// One directory per symbol, holding:
//
//   - trades-YYYY-MM-DD.dat, quotes-YYYY-MM-DD.dat: one session day (the
//     calendar day in Options.Location), fixed 48-byte records appended in
//     arrival order, which is Seq order.
//   - bars-YYYY-MM.dat: one month of minute bars, fixed 64-byte records
//     sorted by time, one per minute. An updated bar rewrites its record in
//     place; a bar for a minute before the last stored one (a late trade
//     that created a bar) rewrites the month file in order, via a temporary
//     file and a rename.
//   - daily.dat: the symbol's daily bars, sorted by day, updated in place.
//
// Fixed-size records make every file binary-searchable with a few preads,
// with no index to maintain or repair. docs/history-format.md describes
// each field and the recovery rules.
//
// # Late trades
//
// Arrival order is time order except for late reports (trades up to a few
// seconds late, occasionally more). Each trade and quote file records in
// its header the largest lateness it holds (MaxLate: how far a record's
// time fell below the largest time before it). That bounds the disorder:
// if some record is below lo-MaxLate, every earlier record is below lo; if
// one is above hi+MaxLate, every later one is above hi. Two binary searches
// with that slack find the window of records that can fall in [lo, hi];
// the window is read in blocks and kept sorted by (time, seq) by insertion,
// and a block's records are released once no unread record can sort before
// them. So queries return exact time order, and the extra work is
// proportional to the lateness actually seen, not to the day.
//
// # Bars of other timeframes
//
// 1Min and 1Day bars are stored; the rest are aggregated while reading:
// NMin and NHour from minute bars in UTC-aligned buckets that restart at
// each UTC midnight (Alpaca: "a 4H bar starts at 00:00, 04:00…"), 1Week
// (from Monday) and NMonth (calendar months, N-month buckets aligned to
// January) from daily bars in Options.Location. See Store.Bars.
//
// # Ordering and pages
//
// Results are grouped by symbol in ascending order; within a symbol, items
// are in (time, seq) order, and Desc reverses that order exactly (newest
// first, later arrivals first among equal times). Limit counts items across
// symbols. A page is cut by asking for Limit+1 items: Next is set exactly
// when the extra one exists, so it is nil only on the last page. A cursor
// resumes strictly after (symbol, time, seq); for bars, after (symbol,
// time), as a symbol has one bar per time.
//
// # Concurrency
//
// Apply (one goroutine), the flusher and any number of queries run
// concurrently. Apply takes only the store mutex, for the batch. A query
// holds a symbol's file lock (shared) while it copies that symbol's tail
// and reads its files; the flusher holds it (exclusive) while it writes a
// symbol's files and removes the written data from the tail, so a query
// sees each record exactly once and never a half-written file. A query sees
// every event applied before it began, and possibly later ones.
//
// # Durability and recovery
//
// AppliedSeq is durable: data is synced (one syncfs(2) on Linux, however
// many files a flush touched) before the checkpoint naming it is written
// (temporary file, fsync, rename). The checkpoint also names the days the
// flush in progress may touch, so Open repairs exactly those files: it
// truncates torn records and drops trade and quote records newer than the
// checkpoint, which the journal replay then re-applies exactly once. Bar
// records are keyed by time, so replaying them rewrites the same values.
// Apply ignores events at or below the highest Seq it has seen, which makes
// an overlapping replay harmless. The latest trade, quote, minute bar and
// daily bars of every symbol are loaded at Open from the ends of the newest
// files, without reading any file whole.
//
// If an fsync or syncfs fails, AppliedSeq stops advancing until restart:
// after a failed fsync the kernel may have dropped the dirty pages, and a
// later successful one would not bring them back.
//
// # Memory
//
// Memory holds, per symbol, the unflushed tail (one flush interval of data
// when the disk keeps up), the latest values and a bitmap of the days that
// have files. Nothing holds a pointer per event. Open files are bounded by
// an LRU (Options.MaxOpenFiles). If the disk stalls, Apply keeps accepting
// and the tails grow until it recovers: Apply must never block ingest, and
// the journal holds the same data durably.
package history
