// Package history is Tape's history store: the queryable copy of every
// trade, quote, minute bar and daily bar, of stocks (in their consolidated
// and their IEX view) and of crypto pairs, that went through the ingest
// goroutine, answering the Alpaca REST history
// API (trades, quotes, bars of any timeframe, latest values and snapshots)
// by symbol and time range.
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
// One directory per symbol, symbols/<symbol> for stocks, iex/<symbol> for
// the IEX view of a stock and crypto/<pair> for crypto (escaped: "BTC/USD"
// is crypto/BTC%2FUSD), holding:
//
//   - trades-YYYY-MM-DD.dat, quotes-YYYY-MM-DD.dat: one session day (the
//     calendar day in Options.Location), fixed 48-byte records appended in
//     arrival order, which is Seq order.
//   - trades-YYYY-MM-DD.runs, quotes-YYYY-MM-DD.runs: the runs of a day
//     file that has more than one (see "Out-of-order data").
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
// # Out-of-order data
//
// Arrival order is time order except for late reports (trades seconds
// late, occasionally hours) and for data added after the fact: an import
// or backfill of a day that already has recorded data, overlapping
// imports, a period replayed after a later one. A file is cut into runs:
// contiguous ranges of records in which no record is more than the run's
// lateness below the largest time before it in the run (runs.go). Live
// data makes one run; an import into a recorded day adds one; a report
// hours late in a busy file becomes a run of its own. The flusher cuts runs
// as it appends: a record starts a new run when it would sort before about
// the last 2,048 records of its run (a lateness that costs more to read
// past than a search), and the number of runs stays logarithmic in the
// file's size whatever the order. The open run is described in the file's
// header, the closed ones in the .runs sidecar.
//
// A query binary searches each run that can hold its range, with the
// run's lateness as slack: if a record is below lo-lateness, every earlier
// record of the run is below lo; if one is above hi+lateness, every later
// one is above hi. Each run is read in blocks; a block's records in range
// are sorted (a nearly sorted block costs a linear pass plus sorting its
// late records) and released once no unread record of the run can sort
// before them; the runs and the unflushed records are merged by a heap,
// and a run is searched only when the merge reaches its first possible
// time. So results are in exact (time, seq) order, out-of-order data costs
// a search per run it actually touches, and nothing is quadratic: measured
// on a day of a million trades, a 1,000-trade page and a whole-day scan
// stay within 2x of the same trades in time order for each of the patterns
// above (BenchmarkDisorder).
//
// Files written before runs existed (format version 1) are read as one run
// with the lateness their header records: exact and never quadratic, but
// slow if that lateness is large. The flusher upgrades such a file (one
// read of it) the first time it appends to it, or after a query met it with
// a lateness above a minute (two files per flush at most, so that a scan
// of old data cannot hold up durability); Open upgrades the files it
// repairs.
//
// # Crypto
//
// Crypto pairs are a namespace of their own (Query.Class, Store.Crypto):
// the same files and algorithms, with records that keep what differs —
// fractional sizes and volumes, the taker side, no exchange or conditions
// — and header kinds of their own, so a file is never decoded as the other
// class. Their session days and months are those of Options.Location too
// (crypto trades around the clock; a day file holds a calendar day there),
// and their daily bars are stored as the feed stamps them. Store.Crypto
// has the method set of the store's stock API, so one REST interface
// serves both families.
//
// # The IEX view
//
// Alpaca serves two views of a stock: the consolidated (SIP) trades,
// national best quotes and their bars, and IEX's own (feed=iex): the
// trades printed on IEX, IEX's top of book and the bars of IEX's trades.
// The iex namespace (Store.IEX) is the second: a namespace of its own in
// the stock record format (directory iex/), fed by Apply with the iex
// feed's quotes and bars (market.KindIEXQuote, ...) and with a copy of
// every stock trade whose Exchange is IEX's, which the consolidated stocks
// keep as well. Everything else (flushing, recovery, retention, latest
// values, snapshots, aggregation) treats it as it treats the stocks, and
// it reads back as stock events (KindTrade, KindQuote, KindBar). A record
// of one received feed holds only IEX trades there, no IEX quotes or bars;
// Store.HasIEX tells the two apart. A store written before the namespace
// existed opens with an empty one.
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
// Apply (one goroutine), the flusher, PruneBefore and any number of
// queries run concurrently. Apply takes only the store mutex, for the batch. A query
// holds a symbol's file lock (shared) while it copies that symbol's tail
// and reads its files; the flusher holds it (exclusive) while it writes a
// symbol's files and removes the written data from the tail, so a query
// sees each record exactly once and never a half-written file. A query sees
// every event applied before it began, and possibly later ones.
//
// # Retention
//
// PruneBefore(t) removes the trade and quote files of the days that end at
// or before t and the minute bar files of the months that do (a month is
// kept whole until it has ended), with their unflushed data; daily bars are
// kept, so daily, weekly and monthly bars still cover all history. It works
// a symbol at a time under that symbol's file lock and the flush lock, so
// queries and flushes interleave with it and never see a symbol half
// pruned; DiskBytes, the day sets and latest values follow.
//
// # Durability and recovery
//
// AppliedSeq is durable: data is synced (one syncfs(2) on Linux, however
// many files a flush touched) before the checkpoint naming it is written
// (temporary file, fsync, rename). The checkpoint also names the days the
// flush in progress may touch, so Open repairs exactly those files: it
// truncates torn records and drops trade and quote records newer than the
// checkpoint, which the journal replay then re-applies exactly once, and
// rebuilds their runs from the records when the crash left the header or
// the sidecar ahead of the records or torn. Bar records are keyed by time,
// so replaying them rewrites the same values.
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
