package bars

// This file is the bar builder of commit 81e0864, before minutes kept
// aggregates instead of trades, with its identifiers prefixed "old" and
// nothing else changed. It holds every trade of the window and re-aggregates
// a minute on each correction or cancel, which makes it the brute-force
// reference of the differential tests (TestDifferential) and the baseline of
// the benchmarks (the "old" variants). Do not fix it: it is what the new
// builder must agree with.

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Builder builds minute, updated and daily bars from trades. It is not safe
// for concurrent use: one ingest goroutine owns it.
type oldBuilder struct {
	loc     *time.Location
	window  int64
	now     int64 // the feed clock, ns
	horizon int64 // minutes ending at or before it are final and dropped

	syms   map[string]*oldSymbol
	sorted []*oldSymbol // by name: the order of daily bars
	last   *oldSymbol   // symbol of the previous trade; runs skip the map

	buckets []*oldBucket  // minutes with trades, ascending: closes and drops
	dirty   []oldDirtyBar // closed bars changed since sent, due at the next :30
	days    []oldDayEntry // session days that may have daily bars to emit

	dayCache    [2]oldDayRange // time.Location math is slow; days rarely change
	freeMinutes []*oldMinute
	freeBuckets []*oldBucket

	stats Stats
}

type oldSymbol struct {
	name string
	mins []*oldMinute  // held minutes, ascending start
	days [2]oldDaySlot // today and yesterday: late trades may cross midnight
}

// minute is one symbol's minute while it may still change.
type oldMinute struct {
	start, day int64      // minute start; start of its session day
	trades     []oldTrade // in arrival order
	bar        oldAgg     // under minute-bar rules
	daily      oldAgg     // under daily rules: this minute's share of the day
	sent       market.Bar
	emitted    bool // a bar for it went out; sent holds it
	dirty      bool // queued in Builder.dirty
	stale      bool // its day has no slot: it counts in no daily bar
}

// daySlot is the part of a symbol's daily bar that can no longer change:
// dropped minutes and too-late trades. The held minutes of the day complete it.
type oldDaySlot struct {
	start  int64
	final  oldAgg
	used   bool
	sent   market.Bar // the last daily bar emitted for the day
	sentOK bool
}

type oldBucket struct {
	start int64
	syms  []*oldSymbol // symbols with trades in the minute
}

type oldDirtyBar struct {
	s *oldSymbol
	m *oldMinute
}

type oldDayRange struct{ start, end int64 }

type oldDayEntry struct {
	oldDayRange
	first int64 // earliest minute with trades: no daily bar closes before it
}

// New returns a Builder whose clock has not started: until the first Advance
// every trade is on time.
func newOld(opts Options) *oldBuilder {
	loc := opts.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("America/New_York"); err != nil {
			panic("bars: " + err.Error()) // unreachable: time/tzdata is embedded
		}
	}
	w := opts.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &oldBuilder{loc: loc, window: int64(w), now: unset, horizon: unset, syms: make(map[string]*oldSymbol)}
}

// Stats returns the counters.
func (b *oldBuilder) Stats() Stats {
	s := b.stats
	s.Symbols = len(b.syms)
	return s
}

// Apply feeds one event into the builder. Trades, corrections and cancels
// change bars; every other kind is ignored. Bars come out of Advance.
func (b *oldBuilder) Apply(e *market.Event) {
	switch e.Kind {
	case market.KindTrade:
		b.trade(e)
	case market.KindCorrection:
		if c := e.Correction; c != nil {
			f, unknown := classify(c.CorrConds)
			if unknown {
				b.stats.UnknownConds++
			}
			b.amend(e.Symbol, c.OrigID, c.Exchange,
				&oldTrade{id: c.CorrID, price: c.CorrPrice, size: c.CorrSize, flags: f, exch: c.Exchange})
		}
	case market.KindCancelError:
		if x := e.CancelError; x != nil {
			b.amend(e.Symbol, x.ID, x.Exchange, nil)
		}
	}
}

func (b *oldBuilder) trade(e *market.Event) {
	f, unknown := classify(e.Trade.Conditions)
	if unknown {
		b.stats.UnknownConds++
	}
	b.stats.Trades++
	t := oldTrade{id: e.Trade.ID, time: e.Time, price: e.Trade.Price, size: e.Trade.Size, flags: f, exch: e.Trade.Exchange}
	s := b.last
	if s == nil || s.name != e.Symbol {
		s = b.symbol(e.Symbol)
		b.last = s
	}
	start := floorMinute(e.Time)
	end := start + minuteNs
	if end <= b.horizon {
		// The minute is final; only the daily bar can still take the trade.
		b.stats.TooLate++
		if d, _ := b.slot(s, start); d != nil {
			d.final.add(&t, f>>dayShift)
		} else {
			b.stats.StaleDays++
		}
		return
	}
	m := b.minute(s, start)
	if m.stale {
		b.stats.StaleDays++
	}
	m.trades = append(m.trades, t)
	m.bar.add(&t, f&minuteMask)
	m.daily.add(&t, f>>dayShift)
	b.stats.HeldTrades++
	if end <= b.now {
		b.stats.LateTrades++
		b.touch(s, m)
	}
}

// amend replaces (repl != nil) or removes the held trade with the given ID.
// The newest match wins; exchange 0 on either side matches any exchange.
func (b *oldBuilder) amend(sym string, id int64, exch byte, repl *oldTrade) {
	if s := b.syms[sym]; s != nil {
		// Corrections usually follow their trade closely: search backwards.
		for i := len(s.mins) - 1; i >= 0; i-- {
			m := s.mins[i]
			for j := len(m.trades) - 1; j >= 0; j-- {
				t := &m.trades[j]
				if t.id != id || (exch != 0 && t.exch != 0 && t.exch != exch) {
					continue
				}
				if repl == nil {
					m.trades = slices.Delete(m.trades, j, j+1)
					b.stats.HeldTrades--
					b.stats.Cancels++
				} else {
					// The trade keeps its time and its place in arrival order.
					r := *repl
					r.time = t.time
					if r.exch == 0 {
						r.exch = t.exch
					}
					*t = r
					b.stats.Corrections++
				}
				m.recompute()
				if m.start+minuteNs <= b.now {
					b.touch(s, m)
				}
				return
			}
		}
	}
	b.stats.UnknownRefs++
}

// recompute rebuilds both aggregates from the trades, in arrival order, so
// the result is what the trades would have built had they arrived that way.
func (m *oldMinute) recompute() {
	m.bar, m.daily = oldAgg{}, oldAgg{}
	for i := range m.trades {
		t := &m.trades[i]
		m.bar.add(t, t.flags&minuteMask)
		m.daily.add(t, t.flags>>dayShift)
	}
}

// touch queues a changed closed minute for the next :30 mark. A minute that
// never had a bar and still has none has nothing to send.
func (b *oldBuilder) touch(s *oldSymbol, m *oldMinute) {
	if m.dirty || (!m.emitted && !m.bar.hasHL) {
		return
	}
	m.dirty = true
	b.dirty = append(b.dirty, oldDirtyBar{s, m})
}

// Advance moves the clock to now (ns since the epoch) and appends to out the
// events that became due, in time order: at each minute close the KindBar of
// every symbol that traded in it, then the KindDailyBar of every symbol whose
// daily bar changed since it last sent one for that day; at each :30 mark the KindUpdatedBar of every bar changed since
// it was sent. Within a step events are ordered by minute, then symbol. The
// clock never goes backwards: a now at or before the clock does nothing.
func (b *oldBuilder) Advance(now int64, out []market.Event) []market.Event {
	if now <= b.now {
		return out
	}
	for {
		t := b.nextDue()
		if t > now {
			break
		}
		b.now = t
		if t == floorMinute(t) {
			out = b.closeMinute(t, out)
		} else {
			out = b.mark(t, out)
		}
	}
	b.now = now
	// Marks with nothing due were skipped; the horizon still moves with them.
	b.horizon = max(b.horizon, nextMark(now)-minuteNs-b.window)
	n := 0
	for _, d := range b.days {
		if d.end > now {
			b.days[n] = d
			n++
		}
	}
	b.days = b.days[:n]
	return out
}

// nextDue returns the first time after the clock at which something is due:
// a minute close with trades or of a day with daily bars (closeMinute decides
// which of them changed), or a :30 mark with updated bars
// to send or minutes to drop.
func (b *oldBuilder) nextDue() int64 {
	next := int64(math.MaxInt64)
	for _, bk := range b.buckets {
		if e := bk.start + minuteNs; e > b.now {
			next = e
			break
		}
	}
	c0 := floorMinute(b.now) + minuteNs
	for _, d := range b.days {
		if c := max(c0, floorMinute(d.first)+minuteNs); c <= d.end {
			next = min(next, c)
		}
	}
	if len(b.dirty) > 0 {
		next = min(next, nextMark(b.now))
	}
	if len(b.buckets) > 0 {
		drop := nextMark(b.buckets[0].start + minuteNs + b.window - 1)
		next = min(next, max(drop, nextMark(b.now)))
	}
	return next
}

// closeMinute emits the bars of the minute ending at c, then the daily bars
// that changed since they were last sent.
func (b *oldBuilder) closeMinute(c int64, out []market.Event) []market.Event {
	start := c - minuteNs
	for _, bk := range b.buckets {
		if bk.start < start {
			continue
		}
		if bk.start == start {
			slices.SortFunc(bk.syms, oldBySymbol)
			for _, s := range bk.syms {
				m := s.find(start)
				if m == nil || !m.bar.hasHL {
					continue
				}
				m.sent, m.emitted = m.bar.bar(), true
				out = append(out, market.Event{Time: start, Symbol: s.name, Kind: market.KindBar, Bar: m.sent})
				b.stats.BarsEmitted++
			}
		}
		break
	}
	for _, d := range b.days {
		if start < d.start || start >= d.end || d.first >= c {
			continue
		}
		for _, s := range b.sorted {
			a, ok := s.daily(d.start)
			if !ok || a.firstPriced() >= c {
				continue
			}
			// Only a daily bar that changed goes out: after the close an
			// unchanged aggregate every minute per symbol is noise.
			bar := a.bar()
			if sl := s.slotAt(d.start); sl != nil {
				if sl.sentOK && sl.sent == bar {
					continue
				}
				sl.sent, sl.sentOK = bar, true
			}
			out = append(out, market.Event{Time: d.start, Symbol: s.name, Kind: market.KindDailyBar, Bar: bar})
			b.stats.DailyBars++
		}
	}
	return out
}

// mark sends the updated bars due at the :30 mark t, then drops the minutes
// that left the window: sending first means no change is ever lost.
func (b *oldBuilder) mark(t int64, out []market.Event) []market.Event {
	slices.SortFunc(b.dirty, func(x, y oldDirtyBar) int {
		return cmp.Or(cmp.Compare(x.m.start, y.m.start), strings.Compare(x.s.name, y.s.name))
	})
	for _, d := range b.dirty {
		m := d.m
		m.dirty = false
		if !m.bar.hasHL {
			continue // emptied by cancels: the protocol cannot retract a bar
		}
		bar := m.bar.bar()
		if m.emitted && bar == m.sent {
			continue
		}
		m.sent, m.emitted = bar, true
		out = append(out, market.Event{Time: m.start, Symbol: d.s.name, Kind: market.KindUpdatedBar, Bar: bar})
		b.stats.UpdatedBars++
	}
	clear(b.dirty)
	b.dirty = b.dirty[:0]
	b.expire(t - b.window)
	return out
}

// expire drops the minutes ending at or before h, folding each into its
// symbol's final day aggregate, and recycles them.
func (b *oldBuilder) expire(h int64) {
	n := 0
	for _, bk := range b.buckets {
		if bk.start+minuteNs > h {
			break
		}
		for _, s := range bk.syms {
			b.drop(s, bk.start)
		}
		b.freeBuckets = append(b.freeBuckets, bk)
		n++
	}
	b.buckets = slices.Delete(b.buckets, 0, n)
	b.horizon = max(b.horizon, h)
}

func (b *oldBuilder) drop(s *oldSymbol, start int64) {
	for i, m := range s.mins {
		if m.start != start {
			continue
		}
		if d := s.slotAt(m.day); d != nil {
			d.final.merge(&m.daily)
		}
		b.stats.HeldTrades -= len(m.trades)
		s.mins = slices.Delete(s.mins, i, i+1)
		b.freeMinutes = append(b.freeMinutes, m)
		return
	}
}

func (b *oldBuilder) symbol(name string) *oldSymbol {
	if s := b.syms[name]; s != nil {
		return s
	}
	// Clone: a decoder may hand out symbols that alias its read buffer.
	s := &oldSymbol{name: strings.Clone(name)}
	b.syms[s.name] = s
	i, _ := slices.BinarySearchFunc(b.sorted, s, oldBySymbol)
	b.sorted = slices.Insert(b.sorted, i, s)
	return s
}

func oldBySymbol(x, y *oldSymbol) int { return strings.Compare(x.name, y.name) }

// minute returns s's minute starting at start, creating it if needed. The
// newest minute is checked first: that is where in-order trades go.
func (b *oldBuilder) minute(s *oldSymbol, start int64) *oldMinute {
	i := len(s.mins)
	for ; i > 0 && s.mins[i-1].start >= start; i-- {
		if s.mins[i-1].start == start {
			return s.mins[i-1]
		}
	}
	var m *oldMinute
	if n := len(b.freeMinutes); n > 0 {
		m = b.freeMinutes[n-1]
		b.freeMinutes = b.freeMinutes[:n-1]
		*m = oldMinute{trades: m.trades[:0]}
	} else {
		m = new(oldMinute)
	}
	m.start = start
	var d *oldDaySlot
	d, m.day = b.slot(s, start)
	m.stale = d == nil
	s.mins = slices.Insert(s.mins, i, m)
	bk := b.bucket(start)
	bk.syms = append(bk.syms, s)
	return m
}

func (s *oldSymbol) find(start int64) *oldMinute {
	for i := len(s.mins) - 1; i >= 0; i-- {
		if s.mins[i].start == start {
			return s.mins[i]
		}
	}
	return nil
}

func (b *oldBuilder) bucket(start int64) *oldBucket {
	i := len(b.buckets)
	for ; i > 0 && b.buckets[i-1].start >= start; i-- {
		if b.buckets[i-1].start == start {
			return b.buckets[i-1]
		}
	}
	var bk *oldBucket
	if n := len(b.freeBuckets); n > 0 {
		bk = b.freeBuckets[n-1]
		b.freeBuckets = b.freeBuckets[:n-1]
		bk.syms = bk.syms[:0]
	} else {
		bk = new(oldBucket)
	}
	bk.start = start
	b.buckets = slices.Insert(b.buckets, i, bk)
	return bk
}

// slot returns s's day aggregate for the session day of the minute starting
// at start, taking over the older of the two slots for a new day, and the
// day's start. It returns nil for a day older than both slots.
func (b *oldBuilder) slot(s *oldSymbol, start int64) (*oldDaySlot, int64) {
	day := b.dayOf(start)
	b.noteDay(day, start)
	if d := s.slotAt(day.start); d != nil {
		return d, day.start
	}
	v := &s.days[0]
	if v.used && (!s.days[1].used || s.days[1].start < v.start) {
		v = &s.days[1]
	}
	if v.used && v.start > day.start {
		return nil, day.start
	}
	*v = oldDaySlot{start: day.start, used: true}
	return v, day.start
}

func (s *oldSymbol) slotAt(day int64) *oldDaySlot {
	for i := range s.days {
		if d := &s.days[i]; d.used && d.start == day {
			return d
		}
	}
	return nil
}

// daily returns s's daily aggregate for the day starting at day: the final
// part merged with the day's held minutes, in time order.
func (s *oldSymbol) daily(day int64) (oldAgg, bool) {
	d := s.slotAt(day)
	if d == nil {
		return oldAgg{}, false
	}
	a := d.final
	for _, m := range s.mins {
		if m.day == day {
			a.merge(&m.daily)
		}
	}
	return a, a.hasHL
}

// noteDay records that day has trades from the minute starting at start on,
// so Advance knows from which minute close on it has daily bars to emit.
func (b *oldBuilder) noteDay(day oldDayRange, start int64) {
	for i := range b.days {
		if b.days[i].start == day.start {
			b.days[i].first = min(b.days[i].first, start)
			return
		}
	}
	b.days = append(b.days, oldDayEntry{day, start})
}

// dayOf returns the session day containing t.
func (b *oldBuilder) dayOf(t int64) oldDayRange {
	if c := b.dayCache[0]; c.start <= t && t < c.end {
		return c
	}
	if c := b.dayCache[1]; c.start <= t && t < c.end {
		b.dayCache[0], b.dayCache[1] = c, b.dayCache[0]
		return c
	}
	y, mo, d := time.Unix(0, t).In(b.loc).Date()
	// time.Date normalises d+1, and New York's midnight always exists
	// (its clocks change at 2:00), so days are 23, 24 or 25 hours long.
	r := oldDayRange{time.Date(y, mo, d, 0, 0, 0, 0, b.loc).UnixNano(), time.Date(y, mo, d+1, 0, 0, 0, 0, b.loc).UnixNano()}
	b.dayCache[0], b.dayCache[1] = r, b.dayCache[0]
	return r
}

// trade is what the builder keeps of a trade while its minute may still
// change: enough to recompute the minute and daily bars without it or with
// corrected values. 32 bytes.
type oldTrade struct {
	id    int64
	time  int64
	price float64
	size  uint32
	flags uint8 // condTable bits, minute and daily
	exch  byte
}

// agg is an OHLCV aggregate under one set of rules (minute or daily).
//
// Open and close are tracked twice: over last-eligible trades and over
// high/low-eligible ones, because a bar whose only priced trades are, say,
// all "Z" takes its open and close from those. Keeping the times lets two
// aggregates merge into the one their trades would have built.
type oldAgg struct {
	open, close     float64 // last-eligible trades
	openT, closeT   int64
	hopen, hclose   float64 // high/low-eligible trades
	hopenT, hcloseT int64
	high, low       float64
	pv              float64 // Σ price×size, for VWAP
	vol, n          uint64
	hasLast, hasHL  bool
}

// add folds in one trade with update flags f (updHL|updLast|updVol). Trades
// must come in arrival order: at equal timestamps the first one stays the
// open and the last one becomes the close.
func (a *oldAgg) add(t *oldTrade, f uint8) {
	if f&updHL != 0 {
		if !a.hasHL {
			a.hasHL = true
			a.high, a.low = t.price, t.price
			a.hopen, a.hopenT, a.hclose, a.hcloseT = t.price, t.time, t.price, t.time
		} else {
			a.high = max(a.high, t.price)
			a.low = min(a.low, t.price)
			if t.time < a.hopenT {
				a.hopen, a.hopenT = t.price, t.time
			}
			if t.time >= a.hcloseT {
				a.hclose, a.hcloseT = t.price, t.time
			}
		}
	}
	if f&updLast != 0 {
		if !a.hasLast || t.time < a.openT {
			a.open, a.openT = t.price, t.time
		}
		if !a.hasLast || t.time >= a.closeT {
			a.close, a.closeT = t.price, t.time
		}
		a.hasLast = true
	}
	if f&updVol != 0 {
		a.vol += uint64(t.size)
		a.n++
		a.pv += t.price * float64(t.size)
	}
}

// merge folds in o, whose trades all arrived after a's where timestamps tie.
// The daily bar merges aggregates in minute order, so ties cannot cross them.
func (a *oldAgg) merge(o *oldAgg) {
	if o.hasHL {
		if !a.hasHL {
			a.high, a.low = o.high, o.low
			a.hopen, a.hopenT, a.hclose, a.hcloseT = o.hopen, o.hopenT, o.hclose, o.hcloseT
			a.hasHL = true
		} else {
			a.high = max(a.high, o.high)
			a.low = min(a.low, o.low)
			if o.hopenT < a.hopenT {
				a.hopen, a.hopenT = o.hopen, o.hopenT
			}
			if o.hcloseT >= a.hcloseT {
				a.hclose, a.hcloseT = o.hclose, o.hcloseT
			}
		}
	}
	if o.hasLast {
		if !a.hasLast || o.openT < a.openT {
			a.open, a.openT = o.open, o.openT
		}
		if !a.hasLast || o.closeT >= a.closeT {
			a.close, a.closeT = o.close, o.closeT
		}
		a.hasLast = true
	}
	a.vol += o.vol
	a.n += o.n
	a.pv += o.pv
}

// firstPriced is the time of the earliest trade that gave the aggregate a
// price; only meaningful when hasHL.
func (a *oldAgg) firstPriced() int64 {
	if a.hasLast && a.openT < a.hopenT {
		return a.openT
	}
	return a.hopenT
}

// bar renders the aggregate; only meaningful when hasHL.
func (a *oldAgg) bar() market.Bar {
	o, c := a.hopen, a.hclose
	if a.hasLast {
		o, c = a.open, a.close
	}
	var vw float64
	if a.vol > 0 {
		vw = a.pv / float64(a.vol)
	}
	return market.Bar{Open: o, High: a.high, Low: a.low, Close: c, VWAP: vw, Volume: a.vol, TradeCount: a.n}
}
