// Package bars turns trades into the bars Alpaca streams: minute bars
// ("bars", KindBar), corrections of already emitted minute bars
// ("updatedBars", KindUpdatedBar) and the running session aggregate
// ("dailyBars", KindDailyBar).
//
// # Driving it
//
// A Builder belongs to Tape's single ingest goroutine and has no locks. For
// each feed.Batch the core calls Apply for every event, then
// Advance(batch.Now, out). Apply looks only at trades, corrections and
// cancels; Advance moves the builder's clock and appends the bar events that
// became due. The builder never reads the wall clock: minutes close by the
// feed clock, so a simulator at 1000x or a replay produces, from the same
// batches, the same bars as the live feed did.
//
// # Which trades count (consolidated-tape rules)
//
// The CTA and UTP plans say, per sale condition, whether a trade may update
// the high/low, the last price (open and close) and the volume. A trade with
// several conditions updates a field only if every one of its conditions
// allows it; no conditions, "@" and " " mean a regular trade. The table lives
// in conditions.go (condTable):
//
//	@ space A B D F K L O S X Y 1 5 6 8   high/low, last, volume
//	G P Z 4                               high/low, volume (not last)
//	C H I N R V W 7 E                     volume only
//	M Q                                   nothing
//	9                                     last only
//	T                                     minute bar: like a regular trade; daily bar: volume only
//	U                                     minute bar: high/low and volume; daily bar: volume only
//
// Form T trades (extended hours) are in the minute bars because Alpaca says
// "pre- and post-market trades are included", but they stay out of the daily
// high/low/open/close, which the consolidated tape reports for the regular
// session only; their volume counts in both. Unknown codes count as regular
// (dropping a trade on a code we do not know would lose real volume) and are
// counted in Stats.UnknownConds so a new code gets noticed.
//
// # Minute bars
//
// A bar covers [start, start+1m) and is stamped with its start. It exists only
// if the minute had a trade allowed to update high/low: a quiet minute, or one
// with only volume-only (odd lot, cash, ...) or last-only ("9") trades, has no
// bar, which is why Alpaca clients see "missing" bars. Open and close are the
// earliest and latest last-eligible trades by timestamp (ties by arrival);
// when the minute has none, they come from the high/low-eligible ones (a
// minute of only "Z" trades). High and low are over high/low-eligible trades;
// volume, trade count and VWAP over volume-eligible ones. A "9" trade next to
// regular ones sets the close without widening high/low, as the table says.
//
// The bar is emitted as KindBar once the clock reaches start+1m; bars of one
// minute come out ordered by symbol, minutes in order.
//
// # Late trades, corrections and cancels
//
// A closed minute stays open to changes for Options.Window: it is dropped at
// the first :30 mark at or after end+Window. Until then a late trade, a
// correction (of the trade with the original ID, the correction's own
// timestamp being when it was reported) or a cancel/error changes its bar as
// a recomputation from its trades would, even when the trade removed was the
// high or the open (see Memory for how, and for the two limits). A
// changed bar is re-emitted as KindUpdatedBar at the next :30 mark of the feed
// clock (Alpaca: "at the following :30"), once per mark however many changes
// hit it, and only if its values differ from what was last sent. A late trade
// that gives a bar to a minute that had none is also emitted as
// KindUpdatedBar. A bar that loses all its eligible trades is not emitted
// again: Alpaca's protocol has no way to retract a bar.
//
// A trade for a minute already dropped counts as Stats.TooLate and goes into
// the daily bar only. A correction or cancel whose trade the builder does not
// hold (never seen, or dropped) counts as Stats.UnknownRefs and changes
// nothing, the daily bar included: without the trade's time the daily
// open/close could not be recomputed correctly.
//
// # Daily bars
//
// The daily bar aggregates a session day, the calendar day in
// Options.Location (New York by default), stamped with that day's midnight as
// Alpaca does. At every minute close the builder emits, right after that
// minute's bars and ordered by symbol, the daily bar of each symbol whose
// aggregate for the day of the closing minute changed since the last daily
// bar it sent for that day. A symbol has a daily bar once it has a
// high/low-eligible trade before the close of that minute. The bar is the
// aggregate of everything applied so far, so it may already hold trades
// stamped after the closing minute that arrived in the same batch; the next
// close then has nothing new to send for them.
//
// An unchanged daily bar is not sent again: a quiet minute sends none, and
// after the close a symbol's daily bar stops until something changes its day.
// "Changed" compares the bar as sent, field by field, so a change that leaves
// every value as it was (a correction to the same price, size and
// eligibility, two corrections that cancel out before the next close, an
// extended-hours trade corrected between forms T and U) sends nothing. A new
// day starts from scratch: its first daily bar goes out even if its values
// equal the previous day's last one.
//
// Late trades, corrections and cancels change the daily bar as they change the
// minute bars, and the changed bar goes out at the next minute close of its
// day. The daily bar is the fold of the dropped minutes (kept as one
// aggregate) and the minutes still held, so it is recomputed exactly, and an
// unchanged day recomputes to the same bar bit for bit. A change to a day
// whose last minute has closed (a late trade just after midnight) still
// updates its minute bar but sends no daily bar: there is no minute close of
// that day left to carry one.
//
// # Memory
//
// The builder's memory does not grow with the trade rate. Per symbol it
// holds the minutes of the last Window and two day aggregates, each with
// the last daily bar sent for its day; a symbol once seen is kept. A minute
// with at most 64 trades keeps them (32 bytes each): bars are recomputed
// from them and corrections and cancels find their trade by ID, exactly.
// At its 65th trade it folds them into the form below, which takes about as
// much room and then stays that size however busy the minute gets
// (minute.go):
//
//   - its minute and daily aggregates, with Σ price×size kept exactly on a
//     1/10,000 grid (128-bit), so removing a trade undoes adding it bit for
//     bit and VWAP does not depend on arrival order;
//   - a price level per price, condition class and odd/round lot: volume and
//     count held (the next high or low when the high goes), plus the size
//     bounds, exchanges, ID span and a 32-bit ID filter of what was added;
//   - for the minute's and the day's last-eligible and high/low-eligible
//     trades, and for all trades, the first and last keepEnds (8) by time
//     and arrival, with ID, time, price, size and conditions: the only
//     trades that can become the open or close when others go;
//   - the range of its in-order IDs and up to 8 out-of-order ones (late
//     trades, a correction's new ID) kept apart, exactly.
//
// That is 56 bytes per price level and at most 40 bytes per tracked trade,
// a few kilobytes for a busy minute however many trades it had. Dropped
// minutes and their slices are reused, so an in-order trade allocates
// nothing beyond amortised slice growth.
//
// Corrections carry the original trade's price, size and conditions, and
// cancels its price and size (not its conditions), so volume, count and
// Σ price×size come off without the trade. Which minute held it, and under
// which class for a cancel, is found as follows: a kept or tracked trade by
// its ID (exact); otherwise a folded minute whose in-order IDs cover the ID
// or that kept it apart, with a level at that price (and class) able to
// hold it: volume at least the size, the size within the sizes it saw, the
// exchange among its exchanges, the ID within its span and set in its
// filter. Trade IDs
// grow in arrival order and are unique per symbol (Tape's invariant), which
// is what keeps minutes' spans apart and makes a span's endpoints and the
// kept-apart IDs exact. The test is sound: a trade still counted passes it,
// and a reference nothing passes is an unknown one. Its two limits, each
// counted:
//
//   - Stats.GuessedRefs: more than one minute or class could hold the
//     trade. The newest minute, then the level known to have had the ID,
//     then the busiest level takes it. A reference to a trade no longer
//     held (a second cancel of one trade, say) can also pass the test by
//     matching a level that could hold it; it then changes that level.
//   - Stats.LostEnds: more than keepEnds of one end of a set were removed,
//     or a correction moved a trade the minute does not track (so whose time
//     it does not know) into the last-eligible or high/low-eligible trades.
//     The open or close then comes from the other end's list, or a level.
//
// On realistic streams neither happens; the differential tests compare the
// builder with the previous one, which kept every trade, event for event,
// and show how rare they are elsewhere.
//
// # Restarts
//
// AppendState writes all of a builder's state (clock, held minutes, day
// slots, bars due at the next :30, what was last sent, counters) as a
// versioned, checksummed snapshot whose size follows the minutes held, not
// the trades seen; RestoreState puts it into a Builder made with the same
// Options, which from then on emits exactly what the first would have. A
// restart can thus reopen from a checkpoint and replay only the events
// after it. The format is described in state.go; RestoreState checks every
// byte and never trusts a count beyond the bytes that follow it.
//
// # Sets, and the iex feed's bars
//
// A Set is what the ingest pipeline drives: the stock Builder, the crypto
// builder and, if enabled (NewSetWithIEX, or Set.IEX), a second stock
// Builder for the iex feed. That one is given only the trades printed on
// IEX (market.IEXExchange) and the corrections and cancels of them
// (market.Event.OnIEX), builds their bars under the rules above, and its
// events come out as the iex kinds (market.KindIEXBar,
// market.KindIEXUpdatedBar, market.KindIEXDailyBar): Alpaca's iex feed
// builds its bars from IEX's own trades. The Set checkpoints all of its
// builders as one state (set.go), and still reads the state of a Set from
// before IEX bars existed.
package bars
