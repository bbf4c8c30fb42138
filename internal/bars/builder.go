package bars

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the default Location must load without a system zoneinfo
	"unsafe"

	"github.com/tapehq/tape/internal/market"
)

// DefaultWindow is how long a closed minute bar still takes late trades,
// corrections and cancels when Options.Window is zero.
const DefaultWindow = 15 * time.Minute

const (
	minuteNs = int64(time.Minute)
	markNs   = 30 * int64(time.Second) // updated bars go out at :30
	// unset is the clock before the first Advance: low enough that every
	// trade is on time, far enough from math.MinInt64 for minute arithmetic.
	unset = math.MinInt64 / 4
)

// Options configures a Builder; the zero value gives Alpaca's behaviour.
type Options struct {
	// Location sets the session day of daily bars: a day runs from midnight
	// to midnight there. nil means America/New_York.
	Location *time.Location
	// Window is how long after its close a minute bar still changes with
	// late trades, corrections and cancels; zero or less means DefaultWindow.
	// The builder holds each symbol's minutes of that window: up to 64
	// trades of 32 bytes for a quiet minute, about 56 bytes per price level
	// and condition class plus a few dozen tracked trades of 40 bytes for a
	// busy one, whatever the trade rate.
	Window time.Duration
}

// Stats are the builder's counters, for metrics. Counters only grow; the
// last three fields are gauges.
type Stats struct {
	Trades       uint64 // trades applied
	Corrections  uint64 // corrections of a held trade
	Cancels      uint64 // cancels and errors of a held trade
	BarsEmitted  uint64 // KindBar events
	UpdatedBars  uint64 // KindUpdatedBar events
	DailyBars    uint64 // KindDailyBar events
	LateTrades   uint64 // trades for a closed minute still within Window
	TooLate      uint64 // trades for a minute beyond Window: daily bar only
	UnknownRefs  uint64 // corrections and cancels of a trade not held: ignored
	UnknownConds uint64 // trades or corrections with a condition code outside the table
	StaleDays    uint64 // trades for a day older than the two a symbol tracks: no daily bar
	// GuessedRefs counts corrections and cancels that more than one held
	// minute or condition class could answer: one was chosen (see locate),
	// which may not be the trade's own.
	GuessedRefs uint64
	// LostEnds counts changes after which a minute's open or close had to be
	// guessed: more than keepEnds trades of one end went, or a correction
	// gave a trade whose time the builder does not know a part in them.
	LostEnds uint64

	Symbols    int // symbols seen
	HeldTrades int // trades counted in held minutes (kept only while a minute is small)
	// HeldBytes is the memory of symbols and of held and recycled minutes,
	// found by walking them: read Stats per scrape, not per event.
	HeldBytes int
}

// Builder builds minute, updated and daily bars from trades. It is not safe
// for concurrent use: one ingest goroutine owns it.
type Builder struct {
	loc     *time.Location
	window  int64
	now     int64  // the feed clock, ns
	horizon int64  // minutes ending at or before it are final and dropped
	seq     uint64 // trades applied so far: arrival order

	syms   map[string]*symbol
	sorted []*symbol // by name: the order of daily bars
	last   *symbol   // symbol of the previous trade; runs skip the map

	buckets []*bucket  // minutes with trades, ascending: closes and drops
	dirty   []dirtyBar // closed bars changed since sent, due at the next :30
	days    []dayEntry // session days that may have daily bars to emit

	dayCache    [2]dayRange // time.Location math is slow; days rarely change
	freeMinutes []*minute
	freeKept    [][]kept // kept trades' arrays of folded minutes, for new ones
	freeBuckets []*bucket

	stats Stats
}

type symbol struct {
	name string
	mins []*minute  // held minutes, ascending start
	days [2]daySlot // today and yesterday: late trades may cross midnight
}

// daySlot is the part of a symbol's daily bar that can no longer change:
// dropped minutes and too-late trades. The held minutes of the day complete it.
type daySlot struct {
	start  int64
	final  agg
	used   bool
	sent   market.Bar // the last daily bar emitted for the day
	sentOK bool
}

type bucket struct {
	start int64
	syms  []*symbol // symbols with trades in the minute
}

type dirtyBar struct {
	s *symbol
	m *minute
}

type dayRange struct{ start, end int64 }

type dayEntry struct {
	dayRange
	first int64 // earliest minute with trades: no daily bar closes before it
}

// New returns a Builder whose clock has not started: until the first Advance
// every trade is on time.
func New(opts Options) *Builder {
	loc := opts.Location
	if loc == nil {
		loc = market.NewYork
	}
	w := opts.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &Builder{loc: loc, window: int64(w), now: unset, horizon: unset, syms: make(map[string]*symbol)}
}

// Stats returns the counters.
func (b *Builder) Stats() Stats {
	s := b.stats
	s.Symbols = len(b.syms)
	s.HeldBytes = b.heldBytes()
	return s
}

func (b *Builder) heldBytes() int {
	n := 0
	for _, s := range b.sorted {
		n += int(unsafe.Sizeof(*s)) + len(s.name) + cap(s.mins)*int(unsafe.Sizeof(s))
		for _, m := range s.mins {
			n += m.bytes()
		}
	}
	for _, m := range b.freeMinutes {
		n += m.bytes()
	}
	for _, k := range b.freeKept {
		n += cap(k) * int(unsafe.Sizeof(kept{}))
	}
	return n
}

// Apply feeds one event into the builder. Trades, corrections and cancels
// change bars; every other kind is ignored. Bars come out of Advance.
func (b *Builder) Apply(e *market.Event) {
	switch e.Kind {
	case market.KindTrade:
		b.trade(e)
	case market.KindCorrection:
		if c := e.Correction; c != nil {
			f, unknown := classify(c.CorrConds)
			if unknown {
				b.stats.UnknownConds++
			}
			of, _ := classify(c.OrigConds) // counted when the trade came
			t := trade{id: c.CorrID, price: c.CorrPrice, size: c.CorrSize, flags: f, exch: c.Exchange}
			t.ticks, t.grid = ticksOf(t.price)
			b.amend(e.Symbol, &ref{id: c.OrigID, price: c.OrigPrice, size: c.OrigSize, flags: of, exch: c.Exchange, known: true}, &t)
		}
	case market.KindCancelError:
		if x := e.CancelError; x != nil {
			b.amend(e.Symbol, &ref{id: x.ID, price: x.Price, size: x.Size, exch: x.Exchange}, nil)
		}
	}
}

func (b *Builder) trade(e *market.Event) {
	f, unknown := classify(e.Trade.Conditions)
	if unknown {
		b.stats.UnknownConds++
	}
	b.stats.Trades++
	b.seq++
	t := trade{id: e.Trade.ID, time: e.Time, seq: b.seq, price: e.Trade.Price, size: e.Trade.Size, flags: f, exch: e.Trade.Exchange}
	t.ticks, t.grid = ticksOf(t.price)
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
	m.add(&t, m == s.mins[len(s.mins)-1], &b.freeKept)
	b.stats.HeldTrades++
	if end <= b.now {
		b.stats.LateTrades++
		b.touch(s, m)
	}
}

// ref is what a correction or cancel says of the trade it refers to.
type ref struct {
	id    int64
	price float64
	size  uint32
	flags uint8 // update flags of the original conditions, when known
	exch  byte
	known bool // flags are known: corrections carry the conditions, cancels do not
}

// amend replaces (repl != nil) or removes the held trade r refers to.
func (b *Builder) amend(sym string, r *ref, repl *trade) {
	s := b.syms[sym]
	if s == nil {
		b.stats.UnknownRefs++
		return
	}
	m, old, at := b.locate(s, r)
	if m == nil {
		b.stats.UnknownRefs++
		return
	}
	if repl == nil {
		b.stats.Cancels++
		b.stats.HeldTrades--
	} else {
		b.stats.Corrections++
		if repl.exch == 0 {
			repl.exch = old.exch
		}
	}
	switch {
	case !m.folded:
		m.changeKept(at, repl)
	case m.change(&old, at >= 0, repl, m == s.mins[len(s.mins)-1]):
		b.stats.LostEnds++
	}
	if m.start+minuteNs <= b.now {
		b.touch(s, m)
	}
}

// locate finds the held minute of the trade r refers to, the trade as
// counted there and where it is known by ID: its index in kept, 0 for a
// tracked end, -1 for neither. The builder keeps no index of trades, so,
// newest minute first:
//
//   - A small minute keeps its trades: found by ID, exact.
//   - A tracked end (one of a minute's first or last keepEnds trades of a
//     set) is found by ID, newest minute first: exact. If it is on another
//     exchange than r says, the reference is unknown: trade IDs are unique
//     per symbol, so no other trade can answer it.
//   - Otherwise a minute can hold the trade only if r's ID is within the IDs
//     it was given and one of its levels at r's price (and, for a
//     correction, the original conditions' class) holds it: enough volume,
//     a size within the sizes it saw, its exchange and its ID's bit in the
//     level's filter. None: unknown, and nothing changes. One: it. Several
//     (minutes, or classes for a cancel, which does not carry conditions):
//     the newest minute and, in it, the level with most trades, counted in
//     Stats.GuessedRefs.
//
// The test is sound: a trade still counted always passes it. A reference to
// a trade not counted (never seen, cancelled, or in a dropped minute) can
// pass it only by matching a level's price, class, exchange, ID bit and
// size bounds, and then changes bars as if it were that level's trade.
func (b *Builder) locate(s *symbol, r *ref) (*minute, trade, int) {
	for i := len(s.mins) - 1; i >= 0; i-- {
		m := s.mins[i]
		if !m.folded {
			for j := len(m.kept) - 1; j >= 0; j-- {
				if k := &m.kept[j]; k.id == r.id {
					if r.exch != 0 && k.exch != 0 && k.exch != r.exch {
						return nil, trade{}, -1
					}
					return m, k.trade(0), j
				}
			}
			continue
		}
		if ok, _ := m.covers(r.id); !ok {
			continue
		}
		if e, ok := m.tracked(r.id); ok {
			if r.exch != 0 && e.exch != 0 && e.exch != r.exch {
				return nil, trade{}, -1
			}
			return m, e.trade(), 0
		}
	}
	// Candidates: the newest wins, one known to have had the ID (a stray,
	// or an end of a level's ID span) before all others.
	var (
		found    *minute
		flags    uint8
		best     uint32 // trades of the chosen level
		sure     bool   // the chosen level had the ID
		n, nSure int    // candidates, and those known to have had the ID
		pb       = math.Float64bits(r.price)
		lo, hi   = levelKey(r.flags, r.size), levelKey(r.flags, r.size)
	)
	if !r.known {
		lo, hi = 0, math.MaxUint8
	}
	for i := len(s.mins) - 1; i >= 0; i-- {
		m := s.mins[i]
		ok, stray := m.covers(r.id)
		if !ok || !m.folded {
			continue
		}
		j, _ := m.findLevel(r.price, lo)
		for ; j < len(m.levels) && math.Float64bits(m.levels[j].price) == pb && m.levels[j].key <= hi; j++ {
			l := &m.levels[j]
			if !l.holds(r.id, r.exch, r.size, stray) {
				continue
			}
			had := stray || l.idLo == r.id || l.idHi == r.id
			n++
			if had {
				nSure++
			}
			if found == nil || (had && !sure) || (found == m && had == sure && l.n > best) {
				found, flags, best, sure = m, l.flags(), l.n, had
			}
		}
	}
	if n > 1 && (!sure || nSure > 1) {
		b.stats.GuessedRefs++
	}
	t := trade{id: r.id, price: r.price, size: r.size, flags: flags, exch: r.exch}
	t.ticks, t.grid = ticksOf(r.price)
	return found, t, -1
}

// touch queues a changed closed minute for the next :30 mark. A minute that
// never had a bar and still has none has nothing to send.
func (b *Builder) touch(s *symbol, m *minute) {
	if m.dirty || (!m.emitted && !m.bar.hasHL) {
		return
	}
	m.dirty = true
	b.dirty = append(b.dirty, dirtyBar{s, m})
}

// Advance moves the clock to now (ns since the epoch) and appends to out the
// events that became due, in time order: at each minute close the KindBar of
// every symbol that traded in it, then the KindDailyBar of every symbol whose
// daily bar changed since it last sent one for that day; at each :30 mark the KindUpdatedBar of every bar changed since
// it was sent. Within a step events are ordered by minute, then symbol. The
// clock never goes backwards: a now at or before the clock does nothing.
func (b *Builder) Advance(now int64, out []market.Event) []market.Event {
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
func (b *Builder) nextDue() int64 {
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
func (b *Builder) closeMinute(c int64, out []market.Event) []market.Event {
	start := c - minuteNs
	for _, bk := range b.buckets {
		if bk.start < start {
			continue
		}
		if bk.start == start {
			slices.SortFunc(bk.syms, bySymbol)
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
func (b *Builder) mark(t int64, out []market.Event) []market.Event {
	slices.SortFunc(b.dirty, func(x, y dirtyBar) int {
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
func (b *Builder) expire(h int64) {
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

func (b *Builder) drop(s *symbol, start int64) {
	for i, m := range s.mins {
		if m.start != start {
			continue
		}
		if d := s.slotAt(m.day()); d != nil {
			d.final.merge(m.dailyAgg())
		}
		b.stats.HeldTrades -= m.held()
		s.mins = slices.Delete(s.mins, i, i+1)
		b.freeMinutes = append(b.freeMinutes, m)
		return
	}
}

func (b *Builder) symbol(name string) *symbol {
	if s := b.syms[name]; s != nil {
		return s
	}
	// Clone: a decoder may hand out symbols that alias its read buffer.
	s := &symbol{name: strings.Clone(name)}
	b.syms[s.name] = s
	i, _ := slices.BinarySearchFunc(b.sorted, s, bySymbol)
	b.sorted = slices.Insert(b.sorted, i, s)
	return s
}

func bySymbol(x, y *symbol) int { return strings.Compare(x.name, y.name) }

// minute returns s's minute starting at start, creating it if needed. The
// newest minute is checked first: that is where in-order trades go.
func (b *Builder) minute(s *symbol, start int64) *minute {
	i := len(s.mins)
	for ; i > 0 && s.mins[i-1].start >= start; i-- {
		if s.mins[i-1].start == start {
			return s.mins[i-1]
		}
	}
	var m *minute
	if n := len(b.freeMinutes); n > 0 {
		m = b.freeMinutes[n-1]
		b.freeMinutes = b.freeMinutes[:n-1]
	} else {
		m = new(minute)
	}
	m.reset()
	if n := len(b.freeKept); cap(m.kept) == 0 && n > 0 {
		m.kept = b.freeKept[n-1]
		b.freeKept = b.freeKept[:n-1]
	}
	m.start = start
	var d *daySlot
	d, day := b.slot(s, start)
	m.daySec = uint32((start - day) / 1e9)
	m.stale = d == nil
	s.mins = slices.Insert(s.mins, i, m)
	bk := b.bucket(start)
	bk.syms = append(bk.syms, s)
	return m
}

func (s *symbol) find(start int64) *minute {
	for i := len(s.mins) - 1; i >= 0; i-- {
		if s.mins[i].start == start {
			return s.mins[i]
		}
	}
	return nil
}

func (b *Builder) bucket(start int64) *bucket {
	i := len(b.buckets)
	for ; i > 0 && b.buckets[i-1].start >= start; i-- {
		if b.buckets[i-1].start == start {
			return b.buckets[i-1]
		}
	}
	var bk *bucket
	if n := len(b.freeBuckets); n > 0 {
		bk = b.freeBuckets[n-1]
		b.freeBuckets = b.freeBuckets[:n-1]
		bk.syms = bk.syms[:0]
	} else {
		bk = new(bucket)
	}
	bk.start = start
	b.buckets = slices.Insert(b.buckets, i, bk)
	return bk
}

// slot returns s's day aggregate for the session day of the minute starting
// at start, taking over the older of the two slots for a new day, and the
// day's start. It returns nil for a day older than both slots.
func (b *Builder) slot(s *symbol, start int64) (*daySlot, int64) {
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
	*v = daySlot{start: day.start, used: true}
	return v, day.start
}

func (s *symbol) slotAt(day int64) *daySlot {
	for i := range s.days {
		if d := &s.days[i]; d.used && d.start == day {
			return d
		}
	}
	return nil
}

// daily returns s's daily aggregate for the day starting at day: the final
// part merged with the day's held minutes, in time order.
func (s *symbol) daily(day int64) (agg, bool) {
	d := s.slotAt(day)
	if d == nil {
		return agg{}, false
	}
	a := d.final
	for _, m := range s.mins {
		if m.day() == day {
			a.merge(m.dailyAgg())
		}
	}
	return a, a.hasHL
}

// noteDay records that day has trades from the minute starting at start on,
// so Advance knows from which minute close on it has daily bars to emit.
func (b *Builder) noteDay(day dayRange, start int64) {
	for i := range b.days {
		if b.days[i].start == day.start {
			b.days[i].first = min(b.days[i].first, start)
			return
		}
	}
	b.days = append(b.days, dayEntry{day, start})
}

// dayOf returns the session day containing t.
func (b *Builder) dayOf(t int64) dayRange {
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
	r := dayRange{time.Date(y, mo, d, 0, 0, 0, 0, b.loc).UnixNano(), time.Date(y, mo, d+1, 0, 0, 0, 0, b.loc).UnixNano()}
	b.dayCache[0], b.dayCache[1] = r, b.dayCache[0]
	return r
}

func floorMinute(t int64) int64 {
	r := t % minuteNs
	if r < 0 {
		r += minuteNs
	}
	return t - r
}

// nextMark returns the first :30 mark after t.
func nextMark(t int64) int64 {
	m := floorMinute(t) + markNs
	if m <= t {
		m += minuteNs
	}
	return m
}
