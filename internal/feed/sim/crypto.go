package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/tapehq/tape/internal/market"
)

// DefaultCryptoSymbols are the crypto pairs a caller can pass as
// Options.CryptoSymbols for a familiar set: the large coins against the
// dollar and the dollar's largest stablecoin.
var DefaultCryptoSymbols = []string{"BTC/USD", "ETH/USD", "SOL/USD", "DOGE/USD", "LTC/USD", "AVAX/USD", "LINK/USD", "USDT/USD"}

// cryptoAsset is the static description of a coin, priced in dollars. A
// pair's profile is derived from its base and quote assets.
type cryptoAsset struct {
	price  float64 // USD, rough late-2026 level
	vol    float64 // annualised volatility
	weight float64 // relative share of the message flow (of a dollar pair)
	spread float64 // typical NBBO spread of a dollar pair, basis points
	depth  float64 // typical size of a book level, USD
	stable bool    // pegged to the dollar
}

// cryptoAssets are the coins with built-in profiles. Alpaca's spreads are
// wider than the big exchanges' (it quotes a consolidated price with a
// margin), hence several basis points even for BTC.
var cryptoAssets = map[string]cryptoAsset{
	"BTC":  {100_000, 0.50, 8, 3, 60_000, false},
	"ETH":  {4_000, 0.65, 6, 4, 40_000, false},
	"SOL":  {200, 0.85, 4, 6, 20_000, false},
	"XRP":  {2.5, 0.80, 2, 8, 15_000, false},
	"DOGE": {0.25, 0.95, 2.5, 8, 15_000, false},
	"LTC":  {100, 0.75, 1.5, 10, 10_000, false},
	"AVAX": {30, 0.90, 1.5, 10, 8_000, false},
	"LINK": {20, 0.85, 1.5, 10, 8_000, false},
	"BCH":  {500, 0.75, 1, 10, 8_000, false},
	"DOT":  {5, 0.85, 1, 12, 5_000, false},
	"UNI":  {10, 0.90, 1, 12, 5_000, false},
	"AAVE": {300, 0.90, 1, 12, 5_000, false},
	"SHIB": {0.000015, 1.00, 1, 15, 5_000, false},
	"USDT": {1, 0.02, 1, 1, 50_000, true},
	"USDC": {1, 0.02, 1, 1, 50_000, true},
}

// cryptoQuotes are the quote currencies Alpaca lists pairs in.
var cryptoQuotes = []string{"USD", "USDT", "USDC", "BTC"}

// Ranges of derived coins (bases without a built-in profile): small caps.
const (
	derivedCoinMinPrice, derivedCoinMaxPrice   = 0.01, 1000.0
	derivedCoinMinVol, derivedCoinMaxVol       = 0.70, 1.30
	derivedCoinMinWeight, derivedCoinMaxWeight = 0.5, 1.5
	derivedCoinMinSpread, derivedCoinMaxSpread = 8.0, 30.0      // basis points
	derivedCoinMinDepth, derivedCoinMaxDepth   = 2e3, 10e3      // USD per level
	derivedCoinStream                          = 0x4352_5950_54 // PCG stream of the coin generator
	maxCoinLen                                 = 10
	btcCorrelation                             = 0.7 // of coins' returns with BTC's, for pairs quoted in BTC
)

// pairProfile is the static description of a simulated crypto pair.
type pairProfile struct {
	name     string
	price    float64 // in the quote currency
	usd      float64 // the base coin's price in dollars, which sizes are made of
	vol      float64
	weight   float64
	spread   float64 // basis points
	depth    float64 // USD per level
	pxDec    int     // decimals of prices
	szDec    int     // decimals of sizes
	stable   bool    // a stablecoin against the dollar or another stablecoin
	notional float64 // median trade, USD
}

// splitPair splits a valid crypto pair name into its base and quote.
func splitPair(name string) (base, quote string, ok bool) {
	base, quote, ok = strings.Cut(name, "/")
	if !ok || len(base) == 0 || len(base) > maxCoinLen || base[0] < 'A' || base[0] > 'Z' || base == quote {
		return "", "", false
	}
	for i := 1; i < len(base); i++ {
		if c := base[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return "", "", false
		}
	}
	for _, q := range cryptoQuotes {
		if quote == q {
			return base, quote, true
		}
	}
	return "", "", false
}

// coin returns the profile of a coin: the built-in one, or one derived from
// its name alone (as for stocks, independent of Options.Seed).
func coin(name string) cryptoAsset {
	if a, ok := cryptoAssets[name]; ok {
		return a
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	pcg := rand.NewPCG(h.Sum64(), derivedCoinStream)
	uniform := func() float64 { return float64(pcg.Uint64()>>11) / (1 << 53) }
	logUniform := func(lo, hi float64) float64 { return lo * math.Pow(hi/lo, uniform()) }
	round := func(x float64, digits int) float64 { // to significant digits
		p := math.Pow(10, float64(digits)-math.Ceil(math.Log10(x)))
		return math.Round(x*p) / p
	}
	return cryptoAsset{
		price:  round(logUniform(derivedCoinMinPrice, derivedCoinMaxPrice), 3),
		vol:    round(derivedCoinMinVol+(derivedCoinMaxVol-derivedCoinMinVol)*uniform(), 2),
		weight: round(derivedCoinMinWeight+(derivedCoinMaxWeight-derivedCoinMinWeight)*uniform(), 2),
		spread: round(logUniform(derivedCoinMinSpread, derivedCoinMaxSpread), 2),
		depth:  round(logUniform(derivedCoinMinDepth, derivedCoinMaxDepth), 2),
	}
}

// pairProfileFor returns the profile of a valid pair. A pair quoted in a
// dollar stablecoin trades like the dollar pair; one quoted in BTC is the
// ratio of the two dollar prices, with the volatility of the ratio of two
// correlated coins, a third of the flow and wider spreads.
func pairProfileFor(name string) pairProfile {
	b, q, _ := splitPair(name)
	a := coin(b)
	p := pairProfile{name: name, price: a.price, usd: a.price, vol: a.vol, weight: a.weight,
		spread: a.spread, depth: a.depth, stable: a.stable}
	if q == "BTC" {
		btc := cryptoAssets["BTC"]
		p.price = a.price / btc.price
		p.vol = math.Sqrt(a.vol*a.vol + btc.vol*btc.vol - 2*btcCorrelation*a.vol*btc.vol)
		p.weight, p.spread, p.stable = a.weight/3, a.spread*1.5, false
	}
	if p.stable {
		p.vol = a.vol
	}
	// Prices carry about six significant digits (BTC 100000.12, DOGE
	// 0.2500012), sizes down to a cent or so of the coin's value.
	p.pxDec = min(max(int(math.Ceil(-math.Log10(p.price*1e-6))), 2), 16)
	p.szDec = min(max(int(math.Ceil(math.Log10(a.price)))+1, 0), 8)
	p.notional = p.depth / 50
	return p
}

// Crypto model constants.
const (
	bookDepth       = 20 // levels per side, always: what a snapshot holds
	maxCryptoEvents = 3  // one arrival: a trade, the book update it causes, the quote

	// An arrival is a trade (3 events), a move of the top of the book
	// (2 events: the update and the quote) or a change below the top
	// (1 event). cryptoEventsPerArrival turns Rate's messages into arrivals.
	cryptoTradeShare       = 0.2
	cryptoMoveShare        = 0.3
	cryptoEventsPerArrival = 3*cryptoTradeShare + 2*cryptoMoveShare + (1 - cryptoTradeShare - cryptoMoveShare)

	hourNs          = int64(3600e9)
	weekHours       = 7 * 24
	nsPerCryptoYear = 365 * nsPerDay    // crypto never closes
	stableTauNs     = 1800e9            // a stablecoin returns to its peg within half an hour
	maxCryptoDrift  = 6.907755278982137 // ln(1000): a pair stays within 1000x of its start
	levelGap        = 0.5               // mean gap between levels, in spreads
)

// cryptoCurve is the weekly profile of crypto activity by UTC hour of the
// week (Monday 00:00 first). Crypto trades around the clock, busiest when
// Europe and America overlap (about 15:00 UTC, three times the quietest
// hours of the Asian night) and some 40% quieter at the weekend. Hourly
// steps are fine enough for a smooth cycle and keep the arrival process
// cheap.
var cryptoCurve = func() (c struct{ shape, vol, spread [weekHours]float64 }) {
	sum := 0.0
	for h := range weekHours {
		a := 1 + 0.5*math.Cos(2*math.Pi*(float64(h%24)+0.5-15)/24)
		if h >= 5*24 { // Saturday and Sunday
			a *= 0.6
		}
		c.shape[h] = a
		sum += a
	}
	v2 := 0.0
	for h := range weekHours {
		c.shape[h] *= weekHours / sum
		c.vol[h] = math.Sqrt(c.shape[h])
		v2 += c.shape[h]
	}
	for h := range weekHours {
		c.vol[h] /= math.Sqrt(v2 / weekHours) // mean variance 1 over the week
		c.spread[h] = 1 / c.vol[h]            // quiet hours quote wider
	}
	return c
}()

// hourOfWeek returns the UTC hour of the week at t (Monday 00:00 = 0); the
// Unix epoch was a Thursday.
func hourOfWeek(t int64) int { return int((t/hourNs + 3*24) % weekHours) }

// level is one price level of a book, in ticks and size units.
type level struct{ px, sz int64 }

// bookSide is one side of a pair's book, best level first. dir is the
// direction of depth in price: -1 for bids, +1 for asks. It has room for
// one level beyond bookDepth, which updates insert before trimming.
type bookSide struct {
	lv  [bookDepth + 1]level
	n   int
	dir int64
}

// atOrBetter reports whether price a is at or better than b on this side.
func (b *bookSide) atOrBetter(a, c int64) bool { return (c-a)*b.dir >= 0 }

// setTop makes px the best level with size sz, removing the levels at or
// better than it.
func (b *bookSide) setTop(px, sz int64) {
	k := 0
	for k < b.n && b.atOrBetter(b.lv[k].px, px) {
		k++
	}
	if k == 0 {
		copy(b.lv[1:b.n+1], b.lv[:b.n])
		b.n++
	} else {
		copy(b.lv[1:], b.lv[k:b.n])
		b.n -= k - 1
	}
	b.lv[0] = level{px, sz}
	b.n = min(b.n, bookDepth)
}

func (b *bookSide) remove(i int) {
	copy(b.lv[i:], b.lv[i+1:b.n])
	b.n--
}

func (b *bookSide) insert(i int, l level) {
	copy(b.lv[i+1:b.n+1], b.lv[i:b.n])
	b.lv[i] = l
	b.n = min(b.n+1, bookDepth)
}

// pair is the mutable state of one simulated crypto pair. Prices are kept
// in ticks and sizes in units (integers), so that the book's levels and the
// quote are exactly the same decimal numbers.
type pair struct {
	name       string
	pxScale    float64 // ticks per unit of the quote currency
	szScale    float64 // size units per coin
	sigma      float64 // diffusion volatility per sqrt(ns)
	jumpRate   float64 // jumps per ns
	jumpScale  float64 // Laplace scale of a jump in log price
	stable     bool
	anchor     float64 // the start's log price: the peg of a stable pair, the centre of the clamp
	halfSpread float64 // half the typical spread, fraction of the price
	depth      float64 // typical level size, units
	median     float64 // median trade size, units

	logPx    float64 // latent log price, quote currency
	px       float64 // latent price in ticks
	last     int64
	nextJump int64
	ticks    int64 // prevailing spread in ticks

	bids, asks bookSide
	tradeID    int64
}

func newPair(p *pairProfile, now int64, rng *rand.Rand) pair {
	pr := pair{
		name:       p.name,
		pxScale:    math.Pow10(p.pxDec),
		szScale:    math.Pow10(p.szDec),
		sigma:      p.vol * math.Sqrt(diffusionShare/nsPerCryptoYear),
		jumpRate:   jumpsPerDay / nsPerDay,
		jumpScale:  p.vol * math.Sqrt((1-diffusionShare)/(365*2*jumpsPerDay)),
		stable:     p.stable,
		anchor:     math.Log(p.price),
		halfSpread: p.spread / 2e4,
		depth:      p.depth / p.usd * math.Pow10(p.szDec),
		median:     p.notional / p.usd * math.Pow10(p.szDec),
		logPx:      math.Log(p.price),
		last:       now,
		bids:       bookSide{dir: -1},
		asks:       bookSide{dir: 1},
	}
	if p.stable {
		pr.jumpRate = 0
	}
	pr.px = p.price * pr.pxScale
	pr.nextJump = math.MaxInt64
	if pr.jumpRate > 0 {
		pr.nextJump = now + int64(rng.ExpFloat64()/pr.jumpRate)
	}
	return pr
}

// resume continues the pair from a recorded state: IDs above the record's,
// the latent price at the recorded quote's midpoint (else the last trade).
// The book is rebuilt around it by the start-up snapshot; sizes are not
// carried (SymbolState's are whole round lots, a stock's).
func (p *pair) resume(st *SymbolState) {
	p.tradeID = st.LastTradeID
	price := st.LastPrice
	if st.BidPrice > 0 && st.BidPrice < st.AskPrice {
		price = (st.BidPrice + st.AskPrice) / 2
	}
	if price > 0 {
		p.logPx = min(max(math.Log(price), p.anchor-maxCryptoDrift), p.anchor+maxCryptoDrift)
		if !p.stable {
			p.anchor = p.logPx
		}
		p.px = math.Exp(p.logPx) * p.pxScale
	}
}

// step advances the latent price to now: diffusion at the hour's
// volatility and Laplace jumps, as for stocks; a stablecoin instead
// returns to its peg (an Ornstein-Uhlenbeck pull) and never jumps.
func (s *Sim) stepPair(p *pair, now int64) {
	dt := float64(now - p.last)
	if dt <= 0 {
		return
	}
	p.last = now
	p.logPx += p.sigma * cryptoCurve.vol[hourOfWeek(now)] * math.Sqrt(dt) * s.rng.NormFloat64()
	if p.stable {
		p.logPx += (p.anchor - p.logPx) * dt / (stableTauNs + dt)
	}
	if now >= p.nextJump {
		j := s.rng.ExpFloat64()
		if s.rng.Uint64()&1 == 0 {
			j = -j
		}
		p.logPx += j * p.jumpScale
		p.nextJump = now + int64(s.rng.ExpFloat64()/p.jumpRate)
	}
	p.logPx = min(max(p.logPx, p.anchor-maxCryptoDrift), p.anchor+maxCryptoDrift)
	p.px = math.Exp(p.logPx) * p.pxScale
}

// levelSize draws the size of a new level at depth i: deeper levels hold
// more, as they do in real books.
func (s *Sim) levelSize(p *pair, i int) int64 {
	return max(1, int64(p.depth*(0.2+s.rng.ExpFloat64())*(1+0.08*float64(i))+0.5))
}

// spreadTicks redraws the prevailing spread: the pair's typical spread,
// wider in quiet hours, with an exponential tail, at least one tick.
func (s *Sim) spreadTicks(p *pair, now int64) int64 {
	k := 2 * p.halfSpread * p.px * cryptoCurve.spread[hourOfWeek(now)]
	return max(1, int64(k*(0.5+0.5*s.rng.ExpFloat64())+0.5))
}

// fill pads a side with new levels beyond its deepest, up to bookDepth.
func (s *Sim) fill(p *pair, b *bookSide) {
	gap := levelGap * 2 * p.halfSpread * p.px
	for b.n < bookDepth {
		px := b.lv[b.n-1].px + b.dir*max(1, int64(gap*(0.2+s.rng.ExpFloat64())+0.5))
		if px < 1 {
			return // a book reaching down to zero: only at absurd prices
		}
		b.lv[b.n] = level{px, s.levelSize(p, b.n)}
		b.n++
	}
}

// build makes a fresh book around the latent price.
func (s *Sim) build(p *pair, now int64) {
	p.ticks = s.spreadTicks(p, now)
	bid := max(1, int64(math.Floor(p.px-float64(p.ticks)/2+0.5)))
	p.bids.lv[0], p.bids.n = level{bid, s.levelSize(p, 0)}, 1
	p.asks.lv[0], p.asks.n = level{bid + p.ticks, s.levelSize(p, 0)}, 1
	s.fill(p, &p.bids)
	s.fill(p, &p.asks)
}

// bootPair emits a pair's start-up snapshot: the whole book (Reset) and the
// quote at its top.
func (s *Sim) bootPair(dst []market.Event, p *pair, step int) []market.Event {
	now := s.clock
	if step == 0 {
		s.build(p, now)
		return append(dst, p.book(now, &p.bids, &p.asks, nil, nil, true, s.levels[:0]))
	}
	return append(dst, p.quote(now))
}

// arrivePair turns one crypto arrival into one to three events, all at
// the same time: a trade with the book update it causes and the new quote;
// a move of the top (the update and the quote); or a change deeper in the
// book (the update). The quote always equals the book's best levels.
func (s *Sim) arrivePair(dst []market.Event) []market.Event {
	now := s.clock
	p := &s.pairs[s.pickPair()]
	s.stepPair(p, now)
	oldBids, oldAsks := p.bids, p.asks
	u := s.rng.Float64()
	switch {
	case u < cryptoTradeShare:
		dst = append(dst, s.cryptoTrade(p, now))
	case u < cryptoTradeShare+cryptoMoveShare:
		s.move(p, now)
	default:
		s.deep(p)
		return append(dst, p.book(now, &oldBids, &oldAsks, &p.bids, &p.asks, false, s.levels[:0]))
	}
	return append(dst, p.book(now, &oldBids, &oldAsks, &p.bids, &p.asks, false, s.levels[:0]), p.quote(now))
}

// move re-centres the top of the book on the latent price. A side whose
// best price changes loses the levels the new price passes (filled or
// cancelled) and gets a fresh best level; when neither does, one best
// level changes size, as most real top-of-book updates do.
func (s *Sim) move(p *pair, now int64) {
	r := s.rng.Uint64()
	if r&3 == 0 {
		p.ticks = s.spreadTicks(p, now)
	}
	bid := max(1, int64(math.Floor(p.px-float64(p.ticks)/2+0.5)))
	ask := bid + p.ticks
	moved := false
	if bid != p.bids.lv[0].px {
		p.bids.setTop(bid, s.levelSize(p, 0))
		moved = true
	}
	if ask != p.asks.lv[0].px {
		p.asks.setTop(ask, s.levelSize(p, 0))
		moved = true
	}
	if !moved {
		side := &p.bids
		if r&4 != 0 {
			side = &p.asks
		}
		side.lv[0].sz = s.newSize(p, side.lv[0].sz, 0)
	}
	s.fill(p, &p.bids)
	s.fill(p, &p.asks)
}

// newSize draws a level size that differs from old, so that every update
// changes something.
func (s *Sim) newSize(p *pair, old int64, i int) int64 {
	sz := s.levelSize(p, i)
	if sz == old {
		sz++
	}
	return sz
}

// deep changes the book below its best levels: mostly a level's size, else
// a level cancelled (the book refills at its far end) or a new one placed
// between two others.
func (s *Sim) deep(p *pair) {
	side := &p.bids
	r := s.rng.Uint64()
	if r&1 != 0 {
		side = &p.asks
	}
	// Activity concentrates near the top, as in real books.
	i := 1 + min(side.n-2, int(4*s.rng.ExpFloat64()))
	switch v := (r >> 8) % 100; {
	case v < 20:
		side.remove(i)
		s.fill(p, side)
	case v < 35 && (side.lv[i].px-side.lv[i-1].px)*side.dir > 1:
		gap := (side.lv[i].px - side.lv[i-1].px) * side.dir
		side.insert(i, level{side.lv[i-1].px + side.dir*(1+s.rng.Int64N(gap-1)), s.levelSize(p, i)})
	default:
		side.lv[i].sz = s.newSize(p, side.lv[i].sz, i)
	}
}

// cryptoTrade prints a trade against the best level of one side: a buyer
// lifting the ask (taker side B) or a seller hitting the bid (S). Takers
// lean towards where the latent price has gone since the book was last
// centred. The trade takes part of the level, or all of it, and the next
// level becomes the best; the book refills at its far end.
func (s *Sim) cryptoTrade(p *pair, now int64) market.Event {
	bid, ask := p.bids.lv[0].px, p.asks.lv[0].px
	lean := min(max((p.px-float64(bid+ask)/2)/float64(ask-bid), -0.75), 0.75)
	side, taker := &p.bids, byte('S')
	if s.rng.Float64() < 0.5+0.4*lean {
		side, taker = &p.asks, 'B'
	}
	best := &side.lv[0]
	size := max(1, int64(p.median*math.Exp(1.2*s.rng.NormFloat64())+0.5))
	price := best.px
	if size >= best.sz {
		size = best.sz
		side.remove(0)
		s.fill(p, side)
	} else {
		best.sz -= size
	}
	p.tradeID++
	e := market.Event{Time: now, Symbol: p.name, Kind: market.KindCryptoTrade}
	e.CryptoTrade = market.CryptoTrade{ID: p.tradeID, Price: float64(price) / p.pxScale,
		Size: float64(size) / p.szScale, TakerSide: taker}
	return e
}

// quote publishes the book's best levels.
func (p *pair) quote(now int64) market.Event {
	b, a := p.bids.lv[0], p.asks.lv[0]
	e := market.Event{Time: now, Symbol: p.name, Kind: market.KindCryptoQuote}
	e.CryptoQuote = market.CryptoQuote{BidPrice: float64(b.px) / p.pxScale, BidSize: float64(b.sz) / p.szScale,
		AskPrice: float64(a.px) / p.pxScale, AskSize: float64(a.sz) / p.szScale}
	return e
}

// smallBook is the most levels allocated together with their Orderbook:
// most updates change one to four levels, so they cost one allocation.
const smallBook = 4

// book publishes the order book: the whole of newB and newA when reset
// (oldB and oldA are then ignored), else the levels that differ between
// old and new: size 0 for a level that is gone, the new size for one that
// is new or changed. scratch is reused for building the lists.
func (p *pair) book(now int64, oldB, oldA, newB, newA *bookSide, reset bool, scratch []market.BookLevel) market.Event {
	if reset {
		newB, newA, oldB, oldA = oldB, oldA, &bookSide{dir: -1}, &bookSide{dir: 1}
	}
	lv := p.diff(scratch, oldB, newB)
	nb := len(lv)
	lv = p.diff(lv, oldA, newA)
	na := len(lv) - nb

	var o *market.Orderbook
	var l []market.BookLevel
	if nb+na <= smallBook {
		m := new(struct {
			o market.Orderbook
			l [smallBook]market.BookLevel
		})
		o, l = &m.o, m.l[:nb+na]
	} else {
		o, l = new(market.Orderbook), make([]market.BookLevel, nb+na)
	}
	copy(l, lv)
	if nb > 0 {
		o.Bids = l[:nb:nb]
	}
	if na > 0 {
		o.Asks = l[nb : nb+na : nb+na]
	}
	o.Reset = reset
	return market.Event{Time: now, Symbol: p.name, Kind: market.KindCryptoOrderbook, Orderbook: o}
}

// diff appends to dst the levels of a side that changed from old to new,
// best first: both are sorted by depth, so one merge finds them.
func (p *pair) diff(dst []market.BookLevel, old, cur *bookSide) []market.BookLevel {
	i, j := 0, 0
	for i < old.n || j < cur.n {
		switch {
		case j == cur.n || (i < old.n && old.lv[i].px*old.dir < cur.lv[j].px*cur.dir):
			dst = append(dst, market.BookLevel{Price: float64(old.lv[i].px) / p.pxScale})
			i++
		case i == old.n || cur.lv[j].px*cur.dir < old.lv[i].px*old.dir:
			dst = append(dst, p.level(cur.lv[j]))
			j++
		default:
			if old.lv[i].sz != cur.lv[j].sz {
				dst = append(dst, p.level(cur.lv[j]))
			}
			i++
			j++
		}
	}
	return dst
}

func (p *pair) level(l level) market.BookLevel {
	return market.BookLevel{Price: float64(l.px) / p.pxScale, Size: float64(l.sz) / p.szScale}
}

// nextCryptoArrival draws the time of the crypto arrival after t, spending
// a unit exponential along the weekly curve hour by hour, as nextArrival
// does for stocks.
func (s *Sim) nextCryptoArrival(t int64) int64 {
	need := s.rng.ExpFloat64()
	for {
		end := (t/hourNs + 1) * hourNs
		r := s.cryptoRate * cryptoCurve.shape[hourOfWeek(t)]
		if avail := float64(end-t) * r; need >= avail {
			need -= avail
			t = end
			continue
		}
		return t + int64(need/r+0.5)
	}
}

func (s *Sim) pickPair() int {
	u := s.rng.Float64() * float64(len(s.pprob))
	i := int(u)
	if u-float64(i) < s.pprob[i] {
		return i
	}
	return int(s.palias[i])
}
