package options

import (
	"hash/fnv"
	"math"
	"slices"
	"time"
)

// Rate is the risk-free rate of the model, continuously compounded.
const Rate = 0.04

// yearNs is the model's year (365 days), in nanoseconds: times to expiry
// are in calendar time, as listed options are priced.
const yearNs = 365 * 24 * float64(time.Hour)

// baseVols are at-the-money volatilities of familiar underlyings, of
// their usual order; others get one from 25 % to 50 % by a hash of the
// root, so a symbol keeps its character across runs.
var baseVols = map[string]float64{
	"SPY": 0.14, "QQQ": 0.19, "IWM": 0.22, "DIA": 0.13, "AAPL": 0.24, "MSFT": 0.23,
	"NVDA": 0.48, "TSLA": 0.55, "AMZN": 0.30, "GOOGL": 0.28, "GOOG": 0.28, "META": 0.34,
	"AMD": 0.50, "NFLX": 0.35, "JPM": 0.22, "BRKB": 0.17, "XOM": 0.24, "KO": 0.16,
	"FAKEPACA": 0.40,
}

// BaseVol returns the at-the-money volatility of an underlying's options.
func BaseVol(root string) float64 {
	if v, ok := baseVols[root]; ok {
		return v
	}
	h := fnv.New64a()
	h.Write([]byte(root))
	return 0.25 + 0.25*unit(h.Sum64())
}

// Vol returns the model's implied volatility for strike k with the
// underlying at s and t years to expiry: the base volatility with a skew
// (lower strikes dearer, as after 1987) and a smile, in the moneyness
// ln(k/s)/√t, bounded so that deep wings stay finite.
func Vol(root string, s, k, t float64) float64 {
	base := BaseVol(root)
	m := math.Log(k/s) / math.Sqrt(max(t, 1.0/365))
	m = max(-3, min(3, m))
	v := base * (1 - 0.25*m + 0.15*m*m)
	return max(0.05, min(3, v))
}

// Greeks are the option's sensitivities, as Alpaca reports them: delta
// and gamma per dollar of the underlying, theta per calendar day, vega
// and rho per percentage point.
type Greeks struct {
	Delta, Gamma, Theta, Vega, Rho float64
}

// Value is a contract's model value at one moment.
type Value struct {
	Price  float64 // theoretical price per share
	Vol    float64 // the implied volatility priced in
	Greeks Greeks
}

// Years returns the time from ns to the contract's expiration in years,
// zero once expired.
func (c Contract) Years(ns int64) float64 {
	return max(0, float64(c.Expires().UnixNano()-ns)/yearNs)
}

// Value prices c with the underlying at s at time ns.
func (c Contract) Value(s float64, ns int64) Value {
	return c.value(s, c.Years(ns))
}

// value prices c with the underlying at s and t years to expiry.
func (c Contract) value(s, t float64) Value {
	k := c.Strike()
	return blackScholes(c.Put, s, k, t, Rate, Vol(c.Root, s, k, t))
}

// blackScholes prices a European option (Tape's American options have no
// dividends, so calls are the same; the early exercise premium of a deep
// put is left out) and its greeks. An expired option is worth its
// intrinsic value.
func blackScholes(put bool, s, k, t, r, vol float64) Value {
	if !(s > 0) || !(k > 0) {
		return Value{Vol: vol}
	}
	if t <= 0 {
		v := Value{Vol: vol}
		switch {
		case !put && s > k:
			v.Price, v.Greeks.Delta = s-k, 1
		case put && s < k:
			v.Price, v.Greeks.Delta = k-s, -1
		}
		return v
	}
	sq := vol * math.Sqrt(t)
	d1 := (math.Log(s/k) + (r+vol*vol/2)*t) / sq
	d2 := d1 - sq
	disc := math.Exp(-r * t)
	pdf := math.Exp(-d1*d1/2) / math.Sqrt(2*math.Pi)
	v := Value{Vol: vol}
	v.Greeks.Gamma = pdf / (s * sq)
	v.Greeks.Vega = s * pdf * math.Sqrt(t) / 100
	decay := -s * pdf * vol / (2 * math.Sqrt(t))
	if put {
		v.Price = k*disc*ncdf(-d2) - s*ncdf(-d1)
		v.Greeks.Delta = ncdf(d1) - 1
		v.Greeks.Theta = (decay + r*k*disc*ncdf(-d2)) / 365
		v.Greeks.Rho = -k * t * disc * ncdf(-d2) / 100
	} else {
		v.Price = s*ncdf(d1) - k*disc*ncdf(d2)
		v.Greeks.Delta = ncdf(d1)
		v.Greeks.Theta = (decay - r*k*disc*ncdf(d2)) / 365
		v.Greeks.Rho = k * t * disc * ncdf(d2) / 100
	}
	v.Price = max(v.Price, 0)
	return v
}

// ncdf is the standard normal distribution function.
func ncdf(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// pennyRoots quote in pennies at every price (the penny interval
// program's most active names).
var pennyRoots = []string{"SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "AMD", "GOOGL"}

// Tick returns the contract's price increment at a price.
func (c Contract) Tick(price float64) float64 {
	if price < 3 || slices.Contains(pennyRoots, c.Root) {
		return 0.01
	}
	return 0.05
}

// BidAsk widens a model price to the contract's market: a spread of about
// 3 % of the price, at least one tick each side, on the tick grid. A
// worthless option is bid at zero and offered at a tick.
func (c Contract) BidAsk(price float64) (bid, ask float64) {
	tick := c.Tick(price)
	half := max(tick, 0.015*price)
	bid = roundTo(math.Floor((price-half)/tick+1e-9)*tick, tick)
	ask = roundTo(math.Ceil((price+half)/tick-1e-9)*tick, tick)
	bid = max(bid, 0)
	ask = max(ask, bid+tick, tick)
	return bid, roundTo(ask, tick)
}

// roundTo rounds x to the tick grid and to whole cents, so that prices
// print as 1.05, never 1.0500000000000003.
func roundTo(x, tick float64) float64 {
	return math.Round(math.Round(x/tick)*tick*100) / 100
}

// OpenInterest returns a deterministic open interest for c, listed around
// ref: hundreds to tens of thousands of contracts, most near the money.
func OpenInterest(c Contract, ref float64) int64 {
	h := c.key()
	money := 1.0
	if ref > 0 {
		money = math.Exp(-6 * math.Abs(math.Log(c.Strike()/ref)))
	}
	return int64(50 + (200+20000*unit(h))*money)
}
