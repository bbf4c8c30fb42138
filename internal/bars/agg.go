package bars

import (
	"math"
	"math/bits"

	"github.com/tapehq/tape/internal/market"
)

// trade is one trade as Apply sees it. Only a small minute keeps its trades
// (as kept); a busy one folds them into the levels and tracked ends of
// minute.go, which keep just what a later correction or cancel needs.
type trade struct {
	id    int64
	time  int64
	seq   uint64 // arrival order, for ties at equal timestamps
	price float64
	ticks int64 // price in 1/10,000ths when grid; see ticksOf
	size  uint32
	flags uint8 // condTable bits, minute and daily
	exch  byte
	grid  bool
}

// tickScale is the grid prices are summed on: US stock prices have at most
// four decimals, so price×size adds up exactly as integers there.
const tickScale = 1e4

// ticksOf returns p in 1/10,000ths if that is exact: converting back gives
// the same float64 bit for bit, so a cancel that subtracts p×size takes
// away exactly what the trade added. Other prices (NaN, sub-grid, huge) are
// summed as floats.
func ticksOf(p float64) (int64, bool) {
	v := math.Round(p * tickScale)
	if !(math.Abs(v) < 1<<53) {
		return 0, false
	}
	if math.Float64bits(v/tickScale) != math.Float64bits(p) {
		return 0, false
	}
	return int64(v), true
}

// i128 is a two's complement 128-bit integer: Σ ticks×size of a busy day
// overflows 64 bits. Additions wrap, so a subtraction undoes an addition
// exactly whatever came in between.
type i128 struct {
	hi int64
	lo uint64
}

func (x *i128) addMul(ticks int64, size uint32) {
	u := uint64(ticks)
	if ticks < 0 {
		u = -u
	}
	h, l := bits.Mul64(u, uint64(size))
	if ticks < 0 {
		x.sub(i128{int64(h), l})
	} else {
		x.add(i128{int64(h), l})
	}
}

func (x *i128) subMul(ticks int64, size uint32) { x.addMul(-ticks, size) }

func (x *i128) add(y i128) {
	var c uint64
	x.lo, c = bits.Add64(x.lo, y.lo, 0)
	x.hi = int64(uint64(x.hi) + uint64(y.hi) + c)
}

func (x *i128) sub(y i128) {
	var b uint64
	x.lo, b = bits.Sub64(x.lo, y.lo, 0)
	x.hi = int64(uint64(x.hi) - uint64(y.hi) - b)
}

func (x i128) float() float64 {
	switch {
	case x.hi == 0:
		return float64(x.lo)
	case x.hi == -1 && x.lo >= 1<<63:
		return float64(int64(x.lo))
	}
	return float64(x.hi)*0x1p64 + float64(x.lo)
}

// agg is an OHLCV aggregate under one set of rules (minute or daily).
//
// Open and close are tracked twice: over last-eligible trades and over
// high/low-eligible ones, because a bar whose only priced trades are, say,
// all "Z" takes its open and close from those. Keeping the times lets two
// aggregates merge into the one their trades would have built. The fields
// of a part are meaningful only when its has flag is set.
//
// Σ price×size is kept exactly (pv, in ticks), so removing a trade undoes
// adding it bit for bit and an unchanged bar renders to the same VWAP
// whatever the order its trades came in.
type agg struct {
	open, close     float64 // last-eligible trades
	openT, closeT   int64
	hopen, hclose   float64 // high/low-eligible trades
	hopenT, hcloseT int64
	high, low       float64
	pv              i128    // Σ ticks×size of grid prices
	pvOff           float64 // Σ price×size of the others
	vol, n          uint64
	hasLast, hasHL  bool
}

// add folds in one trade with update flags f (updHL|updLast|updVol). Trades
// must come in arrival order: at equal timestamps the first one stays the
// open and the last one becomes the close.
func (a *agg) add(t *trade, f uint8) {
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
	a.addVol(t, f)
}

// addVol and subVol add and remove a trade's volume, count and Σ price×size
// if f allows it to update the volume.
func (a *agg) addVol(t *trade, f uint8) {
	if f&updVol != 0 {
		a.vol += uint64(t.size)
		a.n++
		if t.grid {
			a.pv.addMul(t.ticks, t.size)
		} else {
			a.pvOff += t.price * float64(t.size)
		}
	}
}

func (a *agg) subVol(t *trade, f uint8) {
	if f&updVol != 0 {
		a.vol -= uint64(t.size)
		a.n--
		if t.grid {
			a.pv.subMul(t.ticks, t.size)
		} else {
			a.pvOff -= t.price * float64(t.size)
		}
	}
}

// merge folds in o, whose trades all arrived after a's where timestamps tie.
// The daily bar merges aggregates in minute order, so ties cannot cross them.
func (a *agg) merge(o *agg) {
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
	a.pv.add(o.pv)
	a.pvOff += o.pvOff
}

// firstPriced is the time of the earliest trade that gave the aggregate a
// price; only meaningful when hasHL.
func (a *agg) firstPriced() int64 {
	if a.hasLast && a.openT < a.hopenT {
		return a.openT
	}
	return a.hopenT
}

// bar renders the aggregate; only meaningful when hasHL.
func (a *agg) bar() market.Bar {
	o, c := a.hopen, a.hclose
	if a.hasLast {
		o, c = a.open, a.close
	}
	return market.Bar{Open: o, High: a.high, Low: a.low, Close: c, VWAP: a.vwap(), Volume: a.vol, TradeCount: a.n}
}

// vwap divides once where it can: ticks and ticks-per-price×volume are both
// exact below 2^53, so the result is the correctly rounded quotient (a VWAP
// of 101.4 prints as 101.4).
func (a *agg) vwap() float64 {
	if a.vol == 0 {
		return 0
	}
	if a.pvOff == 0 {
		return a.pv.float() / (tickScale * float64(a.vol))
	}
	return (a.pv.float()/tickScale + a.pvOff) / float64(a.vol)
}
