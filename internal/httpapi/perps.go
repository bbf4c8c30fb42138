package httpapi

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Crypto perpetual futures: /v1beta1/crypto-perps/{loc}/latest/trades,
// quotes, bars and pricing, which the Go SDK calls (GetLatestCryptoPerp…),
// and orderbooks, which the JS SDK adds (cryptoPerpLatestOrderbooks).
//
// Tape records no perpetuals, so it derives them from the crypto spot
// record: X-PERP follows the spot pair X/USD, for every pair Options.Crypto
// has. A perp's trade, quote, bar and book are the spot pair's latest, their
// prices times 1+basis, where the basis is a few basis points that depend
// on the symbol and the hour of the item's time only (perpBasis), so an
// answer is stable and reproducible and the perp stays within
// perpMaxBasis of spot. Sizes, volumes, trade counts, IDs, taker sides and
// times are spot's. Pricing reads the spot pair's latest quote (its mid
// is the index price) or, without one, its latest trade or bar; the mark
// price is index times 1+basis, the funding rate a small value fixed per
// symbol and eight-hour funding period (−0.005 % to 0.025 %, about the
// 0.01 % perpetual exchanges charge in calm markets), the next funding time the 00:00,
// 08:00 or 16:00 UTC after the data's time, and the open interest a
// notional of ten to thirty million dollars, fixed per symbol within ±5 %
// an hour, in units of the base currency.

// perpLocations are the {loc} segments of Alpaca's perpetuals API: its one
// venue, "global" (the SDK's default for perps).
var perpLocations = []string{"global"}

const perpSuffix = "-PERP"

// perpMaxBasis bounds the relative difference between a perp's prices and
// spot's: 5 basis points.
const perpMaxBasis = 0.0005

// perpSigDigits is the precision perp prices are rounded to (101761.4,
// 3678.815): spot times a basis would otherwise print fifteen digits.
const perpSigDigits = 7

// perpsReady refuses a perpetuals request when Tape has no crypto record
// to derive them from, or the location is unknown.
func (h *Handler) perpsReady(r *http.Request) *apiError {
	if h.opts.Crypto == nil {
		return notServed("crypto perpetual futures (Tape derives them from crypto data)")
	}
	if loc := r.PathValue("loc"); !slices.Contains(perpLocations, loc) {
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "unknown crypto perpetuals location: " + clip(loc)}
	}
	return nil
}

// perpSymbolsOf parses the required symbols of a perpetuals request: X-PERP,
// upper-cased, sorted and unique. An invalid one gets the 400 Alpaca's
// crypto endpoints answer, without a code (see parseCryptoSymbols), with
// the perpetuals' pattern.
func (h *Handler) perpSymbolsOf(r *http.Request, v url.Values) ([]string, *apiError) {
	if e := h.perpsReady(r); e != nil {
		return nil, e
	}
	return h.parser.symbolList(v.Get("symbols"), canonicalPerp, func(part string) *apiError {
		return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("Invalid symbol(s): %s does not match ^[A-Z0-9]+-PERP$", clip(part))}
	})
}

// canonicalPerp upper-cases s and reports whether it names a perpetual:
// letters and digits, then -PERP (BTC-PERP, 1INCH-PERP).
func canonicalPerp(s string) (string, bool) {
	if len(s) > maxSymbolLen {
		return "", false
	}
	s = strings.ToUpper(s)
	base, ok := strings.CutSuffix(s, perpSuffix)
	if !ok || !alnum(base) {
		return "", false
	}
	return s, true
}

// perpSpot returns the spot pair a perpetual follows: BTC-PERP, BTC/USD.
func perpSpot(perp string) string {
	return strings.TrimSuffix(perp, perpSuffix) + "/USD"
}

// perpLatest serves /v1beta1/crypto-perps/{loc}/latest/trades, quotes and
// bars (k is the crypto kind), leaving out symbols whose spot pair has no
// data, as the crypto latest endpoints do.
func (h *Handler) perpLatest(k kind) endpoint {
	get := h.latestCrypto(k)
	return func(w http.ResponseWriter, r *http.Request, v url.Values) {
		syms, aerr := h.perpSymbolsOf(r, v)
		if aerr != nil {
			h.fail(w, r, aerr)
			return
		}
		h.writeLatest(w, r, k, syms, func(sym string) (market.Event, bool) {
			e, ok := get(perpSpot(sym))
			if ok {
				e = perpEvent(k, sym, e)
			}
			return e, ok
		})
	}
}

// perpEvent returns the perpetual sym's item derived from spot's e: its
// prices times 1+basis. The store's bar is copied, not changed.
func perpEvent(k kind, sym string, e market.Event) market.Event {
	f := 1 + perpBasis(sym, e.Time)
	price := func(p float64) float64 { return perpRound(p * f) }
	e.Symbol = sym
	switch k {
	case kindCryptoTrades:
		e.CryptoTrade.Price = price(e.CryptoTrade.Price)
	case kindCryptoQuotes:
		e.CryptoQuote.BidPrice = price(e.CryptoQuote.BidPrice)
		e.CryptoQuote.AskPrice = price(e.CryptoQuote.AskPrice)
	default:
		if e.CryptoBar != nil {
			b := *e.CryptoBar
			b.Open, b.High, b.Low, b.Close, b.VWAP = price(b.Open), price(b.High), price(b.Low), price(b.Close), price(b.VWAP)
			e.CryptoBar = &b
		}
	}
	return e
}

// perpOrderbooks serves /v1beta1/crypto-perps/{loc}/latest/orderbooks,
// which the JS SDK calls: the spot pair's current book, its prices times
// 1+basis (the basis of the book's time), in the crypto endpoint's shape.
func (h *Handler) perpOrderbooks(w http.ResponseWriter, r *http.Request, v url.Values) {
	syms, aerr := h.perpSymbolsOf(r, v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	h.writeOrderbooks(w, r, syms, func(sym string) (market.Event, bool) {
		e, ok := h.opts.Crypto.LatestOrderbook(perpSpot(sym))
		if ok && e.Orderbook != nil {
			f := 1 + perpBasis(sym, e.Time)
			scale := func(levels []market.BookLevel) []market.BookLevel {
				out := make([]market.BookLevel, len(levels))
				for i, l := range levels {
					out[i] = market.BookLevel{Price: perpRound(l.Price * f), Size: l.Size}
				}
				return out
			}
			e.Orderbook = &market.Orderbook{Bids: scale(e.Orderbook.Bids), Asks: scale(e.Orderbook.Asks)}
		}
		return e, ok
	})
}

// perpPricing is a perpetual's pricing item.
type perpPricing struct {
	time        int64 // of the spot data the index is from
	index, mark float64
	funding     float64 // per funding period
	interest    float64 // open interest, in base currency units
	nextFunding int64
}

// fundingPeriod is the interval between funding payments.
const fundingPeriod = int64(8 * time.Hour)

// perpPricingOf derives sym's pricing from its spot pair's latest data;
// false when spot has none.
func (h *Handler) perpPricingOf(sym string) (perpPricing, bool) {
	spot, c := perpSpot(sym), h.opts.Crypto
	var p perpPricing
	if q, ok := c.LatestCryptoQuote(spot); ok && q.CryptoQuote.BidPrice > 0 && q.CryptoQuote.AskPrice > 0 {
		p.time, p.index = q.Time, (q.CryptoQuote.BidPrice+q.CryptoQuote.AskPrice)/2
	} else if t, ok := c.LatestCryptoTrade(spot); ok {
		p.time, p.index = t.Time, t.CryptoTrade.Price
	} else if b, ok := c.LatestCryptoBar(spot); ok && b.CryptoBar != nil {
		p.time, p.index = b.Time, b.CryptoBar.Close
	} else {
		return p, false
	}
	p.mark = perpRound(p.index * (1 + perpBasis(sym, p.time)))
	period := perpFloorDiv(p.time, fundingPeriod)
	p.funding = math.Round((0.0001+0.00015*perpHash(sym, 'f', period))*1e9) / 1e9
	p.nextFunding = (period + 1) * fundingPeriod
	if p.index > 0 {
		notional := 2e7 * (1 + 0.5*perpHash(sym, 'n', 0)) * (1 + 0.05*perpHash(sym, 'o', perpFloorDiv(p.time, int64(time.Hour))))
		p.interest = math.Round(notional/p.index*1e4) / 1e4
	}
	return p, true
}

// perpPricingEndpoint serves /v1beta1/crypto-perps/{loc}/latest/pricing:
// {"pricing":{"BTC-PERP":{"t":…,"ip":…,"mp":…,"fr":…,"oi":…,"ft":…}}},
// leaving out symbols whose spot pair has no data.
func (h *Handler) perpPricingEndpoint(w http.ResponseWriter, r *http.Request, v url.Values) {
	syms, aerr := h.perpSymbolsOf(r, v)
	if aerr != nil {
		h.fail(w, r, aerr)
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	b := append((*buf)[:0], `{"pricing":{`...)
	first := true
	for _, sym := range syms {
		p, ok := h.perpPricingOf(sym)
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, sym)
		b = append(b, `:{"t":`...)
		b = appendTime(b, p.time)
		b = append(b, `,"ip":`...)
		b = appendFloat(b, p.index)
		b = append(b, `,"mp":`...)
		b = appendFloat(b, p.mark)
		b = append(b, `,"fr":`...)
		b = appendFloat(b, p.funding)
		b = append(b, `,"oi":`...)
		b = appendFloat(b, p.interest)
		b = append(b, `,"ft":`...)
		b = appendTime(b, p.nextFunding)
		b = append(b, '}')
	}
	*buf = append(b, '}', '}')
	h.write(w, r, http.StatusOK, *buf)
}

// perpBasis is the perpetual sym's basis against spot at t: fixed for the
// hour, from −0.5 to +1 times perpMaxBasis (perpetuals mostly trade at a
// small premium).
func perpBasis(sym string, t int64) float64 {
	return perpMaxBasis * (1 + 3*perpHash(sym, 'b', perpFloorDiv(t, int64(time.Hour)))) / 4
}

// perpHash hashes (sym, what, n) to a value uniform in [-1, 1). FNV and a
// SplitMix64 finaliser: stable across builds and hosts, which is the point.
func perpHash(sym string, what byte, n int64) float64 {
	h := fnv.New64a()
	h.Write([]byte(sym))
	h.Write([]byte{0, what})
	z := h.Sum64() ^ uint64(n)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)*(1.0/(1<<52)) - 1
}

// perpRound rounds a positive price to perpSigDigits significant digits,
// by an exact power of ten so that it prints short; anything else is
// returned as it is.
func perpRound(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 0) {
		return x
	}
	// The decimal exponent of x, corrected against exact powers of ten
	// where Log10's last bit could misplace it (x just under 1000).
	d := int(math.Floor(math.Log10(x)))
	if d < 300 && math.Pow10(d+1) <= x {
		d++
	} else if d > -300 && math.Pow10(d) > x {
		d--
	}
	e := d - (perpSigDigits - 1)
	switch {
	case e >= 0 && e <= 22:
		p := math.Pow10(e)
		return math.Round(x/p) * p
	case e < 0 && e >= -22:
		p := math.Pow10(-e)
		return math.Round(x*p) / p
	}
	return x
}

// perpFloorDiv divides rounding toward minus infinity.
func perpFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
