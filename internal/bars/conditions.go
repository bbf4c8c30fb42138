package bars

import "github.com/tapehq/tape/internal/market"

// What a trade may update. The low three bits hold the minute-bar rules, the
// same three bits shifted by dayShift the daily-bar rules: the two differ
// only for the extended-hours codes T and U.
const (
	updHL   uint8 = 1 << 0 // high and low
	updLast uint8 = 1 << 1 // last price: open and close
	updVol  uint8 = 1 << 2 // volume, trade count and VWAP

	minuteMask = updHL | updLast | updVol
	dayShift   = 3

	// unknownCond marks codes outside the plans' tables. It is never stored
	// with a trade; classify reports it separately.
	unknownCond uint8 = 1 << 6
)

// both applies minute-bar flags f to the daily bar as well.
func both(f uint8) uint8 { return f | f<<dayShift }

// condTable maps a condition code to what a trade carrying it may update, per
// the CTA and UTP consolidated-tape rules (see doc.go). It is the only place
// those rules live.
var condTable = func() (t [256]uint8) {
	// Unknown codes count as regular: losing real volume to a code we have
	// not heard of is worse than counting it; Stats.UnknownConds shows them.
	for i := range t {
		t[i] = both(minuteMask) | unknownCond
	}
	set := func(codes string, f uint8) {
		for i := 0; i < len(codes); i++ {
			t[codes[i]] = f
		}
	}
	// Regular, acquisition, bunched, distribution, intermarket sweep,
	// rule 155, sold last, opening, split, cross, yellow flag, stopped stock,
	// re-opening, closing prints and the 611-exempt placeholder.
	set("@ ABDFKLOSXY1568", both(updHL|updLast|updVol))
	// Bunched sold, prior reference price, sold out of sequence, derivatively
	// priced: a real price, but not the latest one.
	set("GPZ4", both(updHL|updVol))
	// Cash, price variation, odd lot, next day, seller, contingent, average
	// price, QCT and placeholder E: the price is not a market price.
	set("CHINRVW7E", both(updVol))
	// Official open and close are reference prints, not trades.
	set("MQ", 0)
	// A corrected consolidated close moves only the last price.
	set("9", both(updLast))
	// Extended hours: in the minute bars (Alpaca includes pre- and
	// post-market trades) but only volume in the daily bar, whose prices
	// cover the regular session.
	set("T", updHL|updLast|updVol|updVol<<dayShift)
	set("U", updHL|updVol|updVol<<dayShift)
	return t
}()

// classify returns the update flags of a trade (minute and daily) as the AND
// over its conditions, and whether any condition was unknown.
func classify(c market.Conditions) (f uint8, unknown bool) {
	f = both(minuteMask)
	var seen uint8
	for _, x := range c {
		if x == 0 {
			break
		}
		v := condTable[x]
		f &= v
		seen |= v
	}
	return f &^ unknownCond, seen&unknownCond != 0
}
