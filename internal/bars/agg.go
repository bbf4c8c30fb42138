package bars

import "github.com/tapehq/tape/internal/market"

// trade is what the builder keeps of a trade while its minute may still
// change: enough to recompute the minute and daily bars without it or with
// corrected values. 32 bytes.
type trade struct {
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
type agg struct {
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
	if f&updVol != 0 {
		a.vol += uint64(t.size)
		a.n++
		a.pv += t.price * float64(t.size)
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
	a.pv += o.pv
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
	var vw float64
	if a.vol > 0 {
		vw = a.pv / float64(a.vol)
	}
	return market.Bar{Open: o, High: a.high, Low: a.low, Close: c, VWAP: vw, Volume: a.vol, TradeCount: a.n}
}
