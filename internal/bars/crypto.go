package bars

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// CryptoBuilder builds Alpaca's crypto bars from crypto trades and quotes:
// a minute bar for every minute of every pair it has seen, trades or not
// (a minute without trades gets volume 0 and the quote midpoint as its
// prices, as Alpaca does; a pair without a quote yet gets none), and at
// each minute that changed it the daily bar — the running aggregate of the
// day, which for crypto Alpaca begins at midnight in Chicago (its daily
// bars are stamped 06:00Z, or 05:00Z in summer). Volumes are fractional.
//
// Minute bars it is given rather than builds (a synthetic past, an
// import) count in the day they fall in, so the day's bar covers the whole
// day when the live market starts in its middle.
//
// Crypto trades arrive in time order (there are no late reports, and no
// corrections or cancels on Alpaca's crypto streams), so a minute's bar is
// final when it closes: no updated bars. A trade for a minute already
// closed (a feed whose clock ran ahead) counts in its day only.
//
// After a long silence of the feed clock (a restart hours later), minutes
// with neither trades nor quotes are not back-filled with flat bars: the
// builder resumes at the current minute. It is not safe for concurrent
// use: one ingest goroutine owns it.
type CryptoBuilder struct {
	minute int64 // start of the open minute; unset before the first Advance
	syms   map[string]*cryptoSym
	names  []string // sorted: the order of emitted bars
	last   *cryptoSym
	days   chicagoDays
}

// chicagoDays caches the Chicago day [lo, hi) last asked for: the location
// arithmetic is slow, and days change once a day.
type chicagoDays struct{ lo, hi int64 }

// chicagoLoc is America/Chicago.
var chicagoLoc = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic("bars: " + err.Error()) // unreachable: time/tzdata is embedded
	}
	return loc
}()

// start returns the start of the Chicago day holding t.
func (c *chicagoDays) start(t int64) int64 {
	if t >= c.lo && t < c.hi {
		return c.lo
	}
	y, m, d := time.Unix(0, t).In(chicagoLoc).Date()
	c.lo = time.Date(y, m, d, 0, 0, 0, 0, chicagoLoc).UnixNano()
	c.hi = time.Date(y, m, d+1, 0, 0, 0, 0, chicagoLoc).UnixNano()
	return c.lo
}

type cryptoSym struct {
	name     string
	cur      cryptoAgg // the open minute
	day      cryptoAgg // the UTC day so far
	dayStart int64
	mid      float64 // the latest quote midpoint (0: none yet)
}

// cryptoAgg is an OHLCV aggregate with fractional volume.
type cryptoAgg struct {
	o, h, l, c, v, pv float64
	n                 uint64
}

func (a *cryptoAgg) add(p, s float64) {
	if a.n == 0 {
		a.o, a.h, a.l = p, p, p
	}
	a.h, a.l, a.c = max(a.h, p), min(a.l, p), p
	a.v += s
	a.pv += p * s
	a.n++
}

// merge adds a whole minute's bar (given, not built: a synthetic past).
func (a *cryptoAgg) merge(r *market.CryptoBar) {
	if a.n == 0 {
		a.o, a.h, a.l = r.Open, r.High, r.Low
	}
	a.h, a.l, a.c = max(a.h, r.High), min(a.l, r.Low), r.Close
	a.v += r.Volume
	a.pv += r.VWAP * r.Volume
	a.n += r.TradeCount
}

func (a *cryptoAgg) bar() *market.CryptoBar {
	b := &market.CryptoBar{Open: a.o, High: a.h, Low: a.l, Close: a.c, Volume: a.v, TradeCount: a.n}
	if a.v > 0 {
		b.VWAP = a.pv / a.v
	}
	return b
}

// maxFlatGap is how many minutes of silence the builder fills with flat
// bars when its clock jumps; beyond, it resumes at the current minute.
const maxFlatGap = 60

// NewCryptoBuilder returns a builder whose clock has not started.
func NewCryptoBuilder() *CryptoBuilder {
	return &CryptoBuilder{minute: unset, syms: make(map[string]*cryptoSym)}
}

func (b *CryptoBuilder) symbol(name string) *cryptoSym {
	if s := b.last; s != nil && s.name == name {
		return s
	}
	s := b.syms[name]
	if s == nil {
		s = &cryptoSym{name: name}
		b.syms[name] = s
		i, _ := slices.BinarySearch(b.names, name)
		b.names = slices.Insert(b.names, i, name)
	}
	b.last = s
	return s
}

// Apply feeds one event: crypto trades and quotes; anything else is
// ignored.
func (b *CryptoBuilder) Apply(e *market.Event) {
	switch e.Kind {
	case market.KindCryptoTrade:
		t := &e.CryptoTrade
		if t.Price <= 0 || t.Size < 0 || math.IsNaN(t.Price) || math.IsNaN(t.Size) {
			return
		}
		s := b.symbol(e.Symbol)
		if b.minute == unset || e.Time >= b.minute {
			s.cur.add(t.Price, t.Size)
		}
		d := b.days.start(e.Time)
		if d > s.dayStart {
			s.day, s.dayStart = cryptoAgg{}, d
		}
		if d == s.dayStart {
			s.day.add(t.Price, t.Size)
		}
	case market.KindCryptoBar:
		// A bar from the feed counts towards its day when its minute is
		// one this builder does not build from trades: a minute before
		// its clock, or any minute of the simulator's synthetic past.
		// The past comes in batches spanning hours, applied before the
		// batch's clock advances this builder, so the clock alone would
		// leave the day's earlier minutes out of the daily bar the live
		// run continues.
		if r := e.CryptoBar; r != nil && r.TradeCount > 0 &&
			(b.minute == unset || e.Time < b.minute || e.Flags.Has(market.FlagSynthetic)) {
			s := b.symbol(e.Symbol)
			d := b.days.start(e.Time)
			if d > s.dayStart {
				s.day, s.dayStart = cryptoAgg{}, d
			}
			if d == s.dayStart {
				s.day.merge(r)
			}
		}
	case market.KindCryptoQuote:
		q := &e.CryptoQuote
		if q.BidPrice > 0 && q.AskPrice >= q.BidPrice {
			b.symbol(e.Symbol).mid = (q.BidPrice + q.AskPrice) / 2
		}
	}
}

// Advance moves the clock to now and appends, for every minute that closed,
// each pair's minute bar and daily bar.
func (b *CryptoBuilder) Advance(now int64, out []market.Event) []market.Event {
	if b.minute == unset {
		b.minute = floorMinute(now)
		return out
	}
	if gap := (floorMinute(now) - b.minute) / minuteNs; gap > maxFlatGap {
		out = b.close(b.minute, out) // the minute in progress, then a jump
		b.minute = floorMinute(now)
		return out
	}
	for now >= b.minute+minuteNs {
		out = b.close(b.minute, out)
		b.minute += minuteNs
	}
	return out
}

// close emits the bars of minute m and starts the next one.
func (b *CryptoBuilder) close(m int64, out []market.Event) []market.Event {
	day := b.days.start(m)
	for _, name := range b.names {
		s := b.syms[name]
		traded := s.cur.n > 0
		switch {
		case traded:
			out = append(out, market.Event{Kind: market.KindCryptoBar, Symbol: name, Time: m, CryptoBar: s.cur.bar()})
		case s.mid > 0:
			out = append(out, market.Event{Kind: market.KindCryptoBar, Symbol: name, Time: m,
				CryptoBar: &market.CryptoBar{Open: s.mid, High: s.mid, Low: s.mid, Close: s.mid}})
		}
		// The daily bar goes out at each minute that changed the day.
		if traded && s.dayStart == day && s.day.n > 0 {
			out = append(out, market.Event{Kind: market.KindCryptoDailyBar, Symbol: name, Time: day, CryptoBar: s.day.bar()})
		}
		s.cur = cryptoAgg{}
	}
	return out
}

// cryptoStateVersion heads AppendState's encoding.
const cryptoStateVersion = 1

var errBadCryptoState = errors.New("bars: malformed crypto state")

// AppendState appends the builder's state (a checkpoint): version u8 |
// minute i64 | count u32 | per pair: name len u8 | name | dayStart i64 |
// mid f64 | cur, day (o h l c v pv f64, n u64).
func (b *CryptoBuilder) AppendState(dst []byte) []byte {
	dst = append(dst, cryptoStateVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.minute))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.names)))
	for _, name := range b.names {
		s := b.syms[name]
		dst = append(dst, byte(len(name)))
		dst = append(dst, name...)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.dayStart))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.mid))
		for _, a := range []*cryptoAgg{&s.cur, &s.day} {
			for _, f := range [...]float64{a.o, a.h, a.l, a.c, a.v, a.pv} {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
			}
			dst = binary.LittleEndian.AppendUint64(dst, a.n)
		}
	}
	return dst
}

// cryptoPairSize is the fixed part of a pair's encoding.
const cryptoPairSize = 8 + 8 + 2*7*8

// RestoreState replaces the builder's state with what AppendState wrote.
func (b *CryptoBuilder) RestoreState(p []byte) error {
	if len(p) < 1+8+4 || p[0] != cryptoStateVersion {
		return errBadCryptoState
	}
	minute := int64(binary.LittleEndian.Uint64(p[1:]))
	n := int(binary.LittleEndian.Uint32(p[9:]))
	p = p[13:]
	if n > len(p)/(1+cryptoPairSize) {
		return fmt.Errorf("%w: %d pairs in %d bytes", errBadCryptoState, n, len(p))
	}
	nb := NewCryptoBuilder()
	nb.minute = minute
	for range n {
		l := int(p[0])
		if l == 0 || len(p) < 1+l+cryptoPairSize {
			return errBadCryptoState
		}
		s := nb.symbol(string(p[1 : 1+l]))
		p = p[1+l:]
		u := func() uint64 { v := binary.LittleEndian.Uint64(p); p = p[8:]; return v }
		f := func() float64 { return math.Float64frombits(u()) }
		s.dayStart, s.mid = int64(u()), f()
		for _, a := range []*cryptoAgg{&s.cur, &s.day} {
			a.o, a.h, a.l, a.c, a.v, a.pv = f(), f(), f(), f(), f(), f()
			a.n = u()
		}
	}
	if len(p) != 0 || len(nb.syms) != n {
		return errBadCryptoState
	}
	nb.last = nil
	*b = *nb
	return nil
}
