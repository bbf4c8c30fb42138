package bars

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/tapehq/tape/internal/market"
)

// Snapshot format, version 1.
//
// Integers are varints (encoding/binary: uvarint, or zigzag varint where
// signed); "f64" and "u32" are little-endian. A price is a uvarint v: even
// means ticks = prev + unzigzag(v>>1) on the 1/10,000 grid, prev being the
// previous price of the same record (0 at its start); 1 means an f64
// follows. Times inside a minute or a day are relative to its start.
//
//	snapshot = "TBST" | version u8 | body | crc32c of all before, u32
//	body     = window (ns) | location name | now | horizon | seq
//	           | 13 counters (Stats, Trades to LostEnds) | days | symbols
//	days     = n | n × (start | end−start | first−start)
//	symbols  = n | n × (shared prefix with the previous name | rest of name
//	           | 2 × slot | minutes), by name
//	slot     = u8 (1 used, 2 sent) | [start | agg | [bar]]
//	minutes  = n | n × minute, by start
//	minute   = start (the first; then minutes since the previous) | start−day (s)
//	           | u8 (1 emitted, 2 dirty, 4 stale, 8 kept) | [bar] | kept or folded
//	kept     = n | n × (id−previous id | time−start | price | size | flags u8 | exch u8)
//	folded   = agg | agg
//	           | ID base (the lowest level span start, or 0)
//	           | 5 counts | levels | ends (first) | ends (last) | lastKeep u8
//	           | strays
//	levels   = n | n × (price | key u8 | size | n | lo | hi−lo
//	           | u8 (1: a span follows) | [idLo−ID base | idHi−idLo] | ids u32 | exch u32)
//	ends     = n | n × (id−previous id | time−start | seq−previous seq
//	           | price | size | flags u8 | sets u8 | exch u8)
//	strays   = n | n × (id−ID base | price | key u8)
//	agg      = u8 (1 high/low, 2 last, 4 pv, 8 pvOff) | [high | low | hopen
//	           | hclose | hopenT | hcloseT] | [open | close | openT | closeT]
//	           | vol | n | [pv hi | pv lo] | [pvOff f64]
//	bar      = open | high | low | close | vwap f64 | volume | count
//
// What can be derived is not stored: the minute buckets, the dirty list
// (the minutes flagged dirty), the held-trade gauge, per-list set counts.
const (
	stateMagic   = "TBST"
	stateVersion = 1
	maxSymbolLen = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendState appends a self-contained, versioned binary snapshot of the
// builder's state to dst: its clock, the minutes it holds (as aggregates),
// day slots, bars due at the next :30, what it last sent, and its counters.
// A Builder made with the same Options and given the snapshot by
// RestoreState emits from then on exactly what this one would have. Its
// size follows the minutes held, not the trades seen.
func (b *Builder) AppendState(dst []byte) []byte {
	start := len(dst)
	e := enc{dst}
	e.b = append(e.b, stateMagic...)
	e.b = append(e.b, stateVersion)
	e.u(uint64(b.window))
	e.str(b.loc.String())
	e.i(b.now)
	e.i(b.horizon)
	e.u(b.seq)
	for _, c := range b.counters() {
		e.u(*c)
	}
	e.u(uint64(len(b.days)))
	for _, d := range b.days {
		e.i(d.start)
		e.u(uint64(d.end - d.start))
		e.i(d.first - d.start)
	}
	e.u(uint64(len(b.sorted)))
	prev := ""
	for _, s := range b.sorted {
		n := 0
		for n < len(prev) && n < len(s.name) && prev[n] == s.name[n] {
			n++
		}
		e.u(uint64(n))
		e.str(s.name[n:])
		prev = s.name
		for i := range s.days {
			e.slot(&s.days[i])
		}
		e.u(uint64(len(s.mins)))
		for i, m := range s.mins {
			if i == 0 {
				e.i(m.start)
			} else {
				e.u(uint64((m.start - s.mins[i-1].start) / minuteNs))
			}
			e.minute(m)
		}
	}
	return binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b[start:], castagnoli))
}

// counters lists the Stats counters a snapshot keeps, in format order.
func (b *Builder) counters() []*uint64 {
	s := &b.stats
	return []*uint64{&s.Trades, &s.Corrections, &s.Cancels, &s.BarsEmitted, &s.UpdatedBars, &s.DailyBars,
		&s.LateTrades, &s.TooLate, &s.UnknownRefs, &s.UnknownConds, &s.StaleDays, &s.GuessedRefs, &s.LostEnds}
}

// RestoreState replaces the builder's state with the snapshot p, taken by
// AppendState of a Builder made with the same Options. The bytes are not
// trusted: a damaged or foreign snapshot returns an error wrapping
// ErrBadState or ErrStateOptions and leaves the builder as it was, and what
// it allocates is bounded by a constant times len(p).
func (b *Builder) RestoreState(p []byte) error {
	if len(p) < len(stateMagic)+1+4 || string(p[:len(stateMagic)]) != stateMagic {
		return fmt.Errorf("%w: no snapshot header", ErrBadState)
	}
	if v := p[len(stateMagic)]; v != stateVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrBadState, v, stateVersion)
	}
	body, sum := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrBadState)
	}
	d := dec{b: body, off: len(stateMagic) + 1}
	if w, loc := d.u(), d.str(256); d.err == nil && (w != uint64(b.window) || loc != b.loc.String()) {
		return fmt.Errorf("%w: window %v in %q, this builder has %v in %q",
			ErrStateOptions, w, loc, b.window, b.loc.String())
	}
	nb := &Builder{loc: b.loc, window: b.window, syms: make(map[string]*symbol)}
	nb.now, nb.horizon = d.time(), d.time()
	nb.seq = d.u()
	for _, c := range nb.counters() {
		*c = d.u()
	}
	nd := d.count(3)
	for range nd {
		start := d.time()
		length, first := d.u(), d.i()
		if d.err != nil {
			break
		}
		r := nb.dayOf(start)
		if r.start != start || uint64(r.end-r.start) != length || first < 0 || first >= r.end-r.start {
			d.fail("day out of line with the location")
			break
		}
		if slices.ContainsFunc(nb.days, func(x dayEntry) bool { return x.start == start }) {
			d.fail("day twice")
			break
		}
		nb.days = append(nb.days, dayEntry{r, start + first})
	}
	ns := d.count(6)
	prev := ""
	for range ns {
		shared := d.u()
		rest := d.str(maxSymbolLen)
		if d.err != nil {
			break
		}
		if shared > uint64(len(prev)) || shared+uint64(len(rest)) > maxSymbolLen {
			d.fail("bad symbol name")
			break
		}
		name := prev[:shared] + rest
		if name <= prev {
			d.fail("symbols out of order")
			break
		}
		prev = name
		s := &symbol{name: name}
		for i := range s.days {
			d.slot(nb, &s.days[i])
		}
		if s.days[0].used && s.days[1].used && s.days[0].start == s.days[1].start {
			d.fail("two slots for one day")
		}
		nm := d.count(20)
		slab := make([]minute, nm) // one allocation per symbol, bounded by the bytes left
		s.mins = make([]*minute, 0, nm)
		for i := range nm {
			var start int64
			if i == 0 {
				start = d.time()
			} else if step := d.u(); step == 0 || step > 1<<24 {
				d.fail("minutes out of order")
			} else {
				start = s.mins[i-1].start + int64(step)*minuteNs
			}
			m := &slab[i]
			d.minute(nb, s, start, m)
			if d.err != nil {
				break
			}
			s.mins = append(s.mins, m)
			nb.stats.HeldTrades += m.held()
			bk := nb.bucket(m.start)
			bk.syms = append(bk.syms, s)
			if m.dirty {
				nb.dirty = append(nb.dirty, dirtyBar{s, m})
			}
		}
		if d.err != nil {
			break
		}
		nb.syms[name] = s
		nb.sorted = append(nb.sorted, s)
	}
	if d.err == nil && d.off != len(body) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	*b = *nb
	return nil
}

type enc struct{ b []byte }

func (e *enc) u(v uint64)    { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)     { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) u8(v uint8)    { e.b = append(e.b, v) }
func (e *enc) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) f64(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }

func (e *enc) str(s string) {
	e.u(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) price(p float64, prev *int64) {
	if t, ok := ticksOf(p); ok {
		e.u(zigzag(t-*prev) << 1)
		*prev = t
		return
	}
	e.u(1)
	e.f64(p)
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

func (e *enc) bar(b *market.Bar) {
	var prev int64
	e.price(b.Open, &prev)
	e.price(b.High, &prev)
	e.price(b.Low, &prev)
	e.price(b.Close, &prev)
	e.f64(b.VWAP)
	e.u(b.Volume)
	e.u(b.TradeCount)
}

func (e *enc) agg(a *agg, base int64) {
	var fl uint8
	if a.hasHL {
		fl |= 1
	}
	if a.hasLast {
		fl |= 2
	}
	if a.pv != (i128{}) {
		fl |= 4
	}
	if math.Float64bits(a.pvOff) != 0 {
		fl |= 8
	}
	e.u8(fl)
	var prev int64
	if a.hasHL {
		e.price(a.high, &prev)
		e.price(a.low, &prev)
		e.price(a.hopen, &prev)
		e.price(a.hclose, &prev)
		e.i(a.hopenT - base)
		e.i(a.hcloseT - base)
	}
	if a.hasLast {
		e.price(a.open, &prev)
		e.price(a.close, &prev)
		e.i(a.openT - base)
		e.i(a.closeT - base)
	}
	e.u(a.vol)
	e.u(a.n)
	if fl&4 != 0 {
		e.i(a.pv.hi)
		e.u(a.pv.lo)
	}
	if fl&8 != 0 {
		e.f64(a.pvOff)
	}
}

func (e *enc) slot(s *daySlot) {
	var fl uint8
	if s.used {
		fl |= 1
	}
	if s.sentOK {
		fl |= 2
	}
	e.u8(fl)
	if !s.used {
		return
	}
	e.i(s.start)
	e.agg(&s.final, s.start)
	if s.sentOK {
		e.bar(&s.sent)
	}
}

func (e *enc) minute(m *minute) {
	e.u(uint64(m.daySec))
	var fl uint8
	if m.emitted {
		fl |= 1
	}
	if m.dirty {
		fl |= 2
	}
	if m.stale {
		fl |= 4
	}
	if !m.folded {
		fl |= 8
	}
	e.u8(fl)
	if m.emitted {
		e.bar(&m.sent)
	}
	if !m.folded {
		// The aggregates are a recomputation from the trades: not stored.
		e.u(uint64(len(m.kept)))
		var id, price int64
		for i := range m.kept {
			k := &m.kept[i]
			e.i(k.id - id)
			e.u(uint64(k.time - m.start))
			e.price(k.price, &price)
			e.u(uint64(k.size))
			e.u8(k.flags)
			e.u8(k.exch)
			id = k.id
		}
		return
	}
	e.agg(&m.bar, m.start)
	e.agg(m.dailyAgg(), m.start)
	base := int64(0)
	// IDs are written from a base: the lowest of the levels' spans.
	for i := range m.levels {
		if l := &m.levels[i]; l.idLo <= l.idHi && (base == 0 || l.idLo < base) {
			base = l.idLo
		}
	}
	e.i(base)
	for _, c := range m.count {
		e.u(uint64(c))
	}
	e.u(uint64(len(m.levels)))
	var prev int64
	for i := range m.levels {
		l := &m.levels[i]
		e.price(l.price, &prev)
		e.u8(l.key)
		e.u(l.size)
		e.u(uint64(l.n))
		e.u(uint64(l.lo))
		e.u(uint64(l.hi - l.lo))
		if l.idLo <= l.idHi {
			e.u8(1)
			e.i(l.idLo - base)
			e.u(uint64(l.idHi - l.idLo))
		} else {
			e.u8(0)
		}
		e.u32(l.ids)
		e.u32(l.exch)
	}
	for _, l := range [2][]end{m.first, m.last} {
		e.u(uint64(len(l)))
		id, seq, price := base, uint64(0), int64(0)
		for i := range l {
			x := &l[i]
			e.i(x.id - id)
			e.u(uint64(x.time - m.start))
			e.i(int64(x.seq - seq))
			e.price(x.price, &price)
			e.u(uint64(x.size))
			e.u8(x.flags)
			e.u8(x.sets)
			e.u8(x.exch)
			id, seq = x.id, x.seq
		}
	}
	e.u8(m.lastKeep)
	e.u(uint64(len(m.strays)))
	prev = 0
	for _, s := range m.strays {
		e.i(s.id - base)
		e.price(s.price, &prev)
		e.u8(s.key)
	}
}

// dec reads a snapshot body; the first error sticks and every read after
// it returns zero.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrBadState, what, d.off)
	}
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) u8() uint8 {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *dec) fixed(n int) []byte {
	if d.err != nil {
		return make([]byte, n)
	}
	if len(d.b)-d.off < n {
		d.fail("truncated")
		return make([]byte, n)
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *dec) u32() uint32  { return binary.LittleEndian.Uint32(d.fixed(4)) }
func (d *dec) f64() float64 { return math.Float64frombits(binary.LittleEndian.Uint64(d.fixed(8))) }

// u32v reads a uvarint that must fit 32 bits.
func (d *dec) u32v() uint32 {
	v := d.u()
	if v > math.MaxUint32 {
		d.fail("value out of range")
		return 0
	}
	return uint32(v)
}

// count reads a number of items of at least size bytes each: no more can
// follow than the bytes left, which bounds what the decoder allocates.
func (d *dec) count(size int) int {
	v := d.u()
	if v > uint64(len(d.b)-d.off)/uint64(size) {
		d.fail("count beyond the input")
		return 0
	}
	return int(v)
}

func (d *dec) str(limit int) string {
	n := d.u()
	if n > uint64(limit) {
		d.fail("string too long")
		return ""
	}
	return string(d.fixed(int(n)))
}

// maxTime bounds the times a snapshot may hold (about 146 years either side
// of 1970): far enough for any feed, near enough that minute arithmetic
// cannot overflow.
const maxTime = 1 << 62

func (d *dec) time() int64 {
	v := d.i()
	if v <= -maxTime || v >= maxTime {
		d.fail("time out of range")
		return 0
	}
	return v
}

func (d *dec) price(prev *int64) float64 {
	v := d.u()
	if v == 1 {
		return d.f64()
	}
	if v&1 != 0 {
		d.fail("bad price")
		return 0
	}
	t := *prev + unzigzag(v>>1)
	if t <= -1<<53 || t >= 1<<53 {
		d.fail("price out of range")
		return 0
	}
	*prev = t
	return float64(t) / tickScale
}

func (d *dec) bar(b *market.Bar) {
	var prev int64
	b.Open, b.High, b.Low, b.Close = d.price(&prev), d.price(&prev), d.price(&prev), d.price(&prev)
	b.VWAP = d.f64()
	b.Volume, b.TradeCount = d.u(), d.u()
}

func (d *dec) agg(a *agg, base int64) {
	fl := d.u8()
	if fl&^15 != 0 {
		d.fail("bad aggregate flags")
		return
	}
	var prev int64
	if fl&1 != 0 {
		a.hasHL = true
		a.high, a.low, a.hopen, a.hclose = d.price(&prev), d.price(&prev), d.price(&prev), d.price(&prev)
		a.hopenT, a.hcloseT = base+d.i(), base+d.i()
	}
	if fl&2 != 0 {
		a.hasLast = true
		a.open, a.close = d.price(&prev), d.price(&prev)
		a.openT, a.closeT = base+d.i(), base+d.i()
	}
	a.vol, a.n = d.u(), d.u()
	if fl&4 != 0 {
		a.pv.hi, a.pv.lo = d.i(), d.u()
	}
	if fl&8 != 0 {
		a.pvOff = d.f64()
	}
}

func (d *dec) slot(b *Builder, s *daySlot) {
	fl := d.u8()
	if fl&^3 != 0 || fl == 2 {
		d.fail("bad slot flags")
		return
	}
	if fl&1 == 0 {
		return
	}
	s.used, s.sentOK = true, fl&2 != 0
	s.start = d.time()
	if d.err == nil && b.dayOf(s.start).start != s.start {
		d.fail("slot not at a day start")
		return
	}
	d.agg(&s.final, s.start)
	if s.sentOK {
		d.bar(&s.sent)
	}
}

// minute reads one minute and checks what the builder relies on: sorted
// levels and ends, flags within the table, ends inside the minute, per-set
// counts that add up.
func (d *dec) minute(b *Builder, s *symbol, start int64, m *minute) {
	m.reset()
	m.start = start
	back := d.u()
	fl := d.u8()
	if d.err != nil {
		return
	}
	if start <= -maxTime || start >= maxTime || floorMinute(start) != start {
		d.fail("minute not on a minute")
		return
	}
	if fl&^15 != 0 {
		d.fail("bad minute header")
		return
	}
	if back > math.MaxUint32 {
		d.fail("bad minute header")
		return
	}
	m.daySec = uint32(back)
	if m.day() != b.dayOf(start).start {
		d.fail("minute in the wrong day")
		return
	}
	m.emitted, m.dirty, m.stale = fl&1 != 0, fl&2 != 0, fl&4 != 0
	if m.stale != (s.slotAt(m.day()) == nil) {
		d.fail("minute's day slot does not match")
		return
	}
	if m.emitted {
		d.bar(&m.sent)
	}
	if fl&8 != 0 {
		n := d.count(6)
		if n > maxKept {
			d.fail("too many kept trades")
			return
		}
		var id, price int64
		m.kept = make([]kept, 0, n)
		for range n {
			k := kept{id: id + d.i()}
			t := d.u()
			k.price, k.size, k.flags, k.exch = d.price(&price), d.u32v(), d.u8(), d.u8()
			if d.err != nil {
				return
			}
			if t >= uint64(minuteNs) || k.flags&0x40 != 0 {
				d.fail("bad kept trade")
				return
			}
			k.time = start + int64(t)
			m.kept = append(m.kept, k)
			id = k.id
		}
		m.recomputeKept()
		return
	}
	m.folded = true
	d.agg(&m.bar, start)
	d.agg(&m.daily, start)
	m.split = true
	base := d.i()
	for i := range m.count {
		m.count[i] = d.u32v()
	}
	for i := range numSets - 1 {
		if m.count[i] > m.count[idxAll] {
			d.fail("set counts do not add up")
		}
	}
	nl := d.count(12)
	m.levels = make([]level, 0, nl) // bounded by the bytes left
	var prev int64
	for range nl {
		l := level{price: d.price(&prev), key: d.u8(), size: d.u(), n: d.u32v(), lo: d.u32v()}
		hi := d.u32v()
		l.hi = l.lo + hi
		if l.hi < l.lo {
			d.fail("bad size bounds")
		}
		l.idLo, l.idHi = math.MaxInt64, math.MinInt64
		switch d.u8() {
		case 0:
		case 1:
			l.idLo = base + d.i()
			w := d.u()
			l.idHi = l.idLo + int64(w)
			if w > math.MaxInt64 || l.idHi < l.idLo {
				d.fail("bad ID span")
			}
		default:
			d.fail("bad ID span")
		}
		l.ids, l.exch = d.u32(), d.u32()
		if d.err != nil {
			return
		}
		if l.n == 0 || l.key&0x40 != 0 {
			d.fail("bad level")
			return
		}
		if k := len(m.levels); k > 0 && !levelBefore(&m.levels[k-1], &l) {
			d.fail("levels out of order")
			return
		}
		m.levels = append(m.levels, l)
	}
	for li := range 2 {
		n := d.count(8)
		if n > 2*keepEnds*numSets {
			d.fail("too many ends")
			return
		}
		id, seq, price := base, uint64(0), int64(0)
		var pc [numSets]uint8
		l := make([]end, 0, n)
		for range n {
			x := end{id: id + d.i()}
			t := d.u()
			x.seq = seq + uint64(d.i())
			x.price = d.price(&price)
			x.size = d.u32v()
			x.flags, x.sets, x.exch = d.u8(), d.u8(), d.u8()
			if d.err != nil {
				return
			}
			if t >= uint64(minuteNs) || x.flags >= 64 || x.sets == 0 || x.sets&^setsOf[x.flags] != 0 {
				d.fail("bad end")
				return
			}
			x.time = start + int64(t)
			if k := len(l); k > 0 && !before(l[k-1].time, l[k-1].seq, x.time, x.seq) {
				d.fail("ends out of order")
				return
			}
			m.countEntry(pc[:], x.sets, 1)
			l = append(l, x)
			id, seq = x.id, x.seq
		}
		for i, c := range pc {
			if uint32(c) > m.count[i] || (li == 0 && c > keepEnds) {
				d.fail("ends do not match the counts")
				return
			}
		}
		if li == 0 {
			m.first, m.pcFirst = l, pc
		} else {
			m.last, m.pcLast = l, pc
		}
	}
	m.reopen()
	m.lastKeep = d.u8()
	if int(m.lastKeep) > keepEnds*numSets || len(m.last) > max(2*keepEnds, 2*int(m.lastKeep)) {
		d.fail("bad last ends")
		return
	}
	n := d.count(3)
	if n > maxStrays {
		d.fail("too many strays")
		return
	}
	if n > 0 {
		m.strays = make([]stray, 0, n)
	}
	prev = 0
	for range n {
		s := stray{id: base + d.i(), price: d.price(&prev), key: d.u8()}
		if s.key&0x40 != 0 {
			d.fail("bad stray")
		}
		m.strays = append(m.strays, s)
	}
}

func levelBefore(x, y *level) bool {
	bx, by := math.Float64bits(x.price), math.Float64bits(y.price)
	return bx < by || (bx == by && x.key < y.key)
}
