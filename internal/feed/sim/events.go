package sim

import (
	"math"
	"math/rand/v2"

	"github.com/tapehq/tape/internal/market"
)

// Model constants. Each is a judgement call about what a realistic
// consolidated feed looks like; doc.go explains the model as a whole.
const (
	tradeShare  = 0.235  // share of arrivals that are trades (the rest are quotes)
	cancelRate  = 1e-4   // per trade: a cancel/error of a recent trade instead
	correctRate = 0.5e-4 // per trade: a correction of a recent trade instead
	lateRate    = 0.002  // per trade: reported late (Z, or U in extended hours)
	isoRate     = 0.08   // per regular-session trade: intermarket sweep (F)
	derivRate   = 0.001  // per trade: derivatively priced (4), printed on the TRF

	haltNs     = int64(5 * 60e9) // LULD trading pause
	imbalEvery = int64(1e9)      // order imbalance updates while halted
	refTauNs   = 300e9           // LULD reference: the price over about 5 minutes
	ringSize   = 16              // recent trades kept for corrections and cancels

	// Late reports are 1-9 s late and priced at the quote of their own
	// time. The quotes are remembered as checkpoints, at most one per
	// histEvery, so that histSize of them always span more than the
	// latest possible report whatever the Rate.
	lateMinNs = int64(1e9)
	lateMaxNs = int64(9e9)
	histSize  = 64
	histEvery = int64(200e6) // 64 x 200 ms = 12.8 s > lateMaxNs

	// IEX's own top of book (KindIEXQuote) follows the NBBO: see
	// iexFollow. A side whose NBBO price moved is repriced with
	// probability iexFollowShare, and a repriced side joins the NBBO with
	// probability iexInsideShare, else it rests a tick or a few (about
	// iexBackoff spreads) behind; when the NBBO's prices stand still, one
	// of IEX's sizes changes on iexSizeShare of the updates. IEX shows
	// about iexDepth of the NBBO's typical size.
	iexFollowShare = 0.35
	iexInsideShare = 0.45
	iexBackoff     = 0.6
	iexSizeShare   = 0.125
	iexDepth       = 0.3
	// maxStockEvents is the most events one stock arrival makes: an NBBO
	// quote and IEX's.
	maxStockEvents = 2

	// The price has three parts. A diffusion carries diffusionShare of the
	// daily variance implied by the symbol's annualised volatility; about
	// three permanent Laplace jumps a day (news, block orders) carry the
	// rest, which fattens the tails of returns as real ones are. Flash
	// spikes are transient Laplace deviations that decay over a few
	// minutes: they are what pushes a price through its LULD band, and
	// they leave the daily variance alone however large they are.
	diffusionShare = 0.85
	jumpsPerDay    = 3
	spikeTauNs     = 180e9 // flash spikes decay with a 3-minute time constant
	spikeScale     = 0.05  // Laplace scale of a spike per unit of volatility
	nsPerDay       = 86_400e9
	maxLogPx       = 11.512925464970229 // ln(100000)

	// sigma is quoted per sqrt(year of regular sessions): 252 days of 6.5 h.
	nsPerYear = 252 * 6.5 * 3600 * 1e9
)

// Pending one-off prints of a symbol, emitted in place of its next arrival.
const (
	pendOpen   uint8 = 1 << iota // opening cross at 09:30
	pendClose                    // closing cross at 16:00
	pendReopen                   // reopening cross after a halt
)

// printed is a trade remembered so that a correction or a cancel can refer
// to a real one.
type printed struct {
	id    int64
	price int64 // cents
	size  uint32
	exch  byte
	conds market.Conditions
}

// nbbo is a published quote and the span of time over which its prices
// prevailed: [from, to), with to 0 while they still do.
type nbbo struct {
	from, to int64
	bid, ask int64 // cents
}

// symbol is the mutable state of one simulated symbol. Prices are kept in
// cents as integers where they are published (quotes, trades, bands), so
// that every price lands exactly on the $0.01 tick.
type symbol struct {
	name       string
	tape       byte
	listing    byte
	tier       int
	sigma      float64 // diffusion volatility per sqrt(ns)
	jumpRate   float64 // jumps and spikes per ns
	spikeShare float64 // fraction of those that are transient spikes
	jumpScale  float64 // Laplace scale of a permanent jump in log price
	spikeScale float64 // Laplace scale of a spike in log price
	spread     float64 // midday spread as a fraction of the price
	depth      float64 // midday NBBO size, round lots
	adv        float64 // shares per day
	sizes      tradeSizes
	qx, tx     *[256]byte

	logPx    float64 // latent log price (USD) without the spike
	spike    float64 // transient log deviation, decaying
	px       float64 // latent price in cents, exp(logPx+spike)*100
	last     int64   // time of the last price step
	nextJump int64

	ref      float64 // LULD reference price, USD
	bandRef  float64 // reference of the published band
	bandPct  float64 // width of the published band; 0 = no band in force
	up, down int64   // published band in cents

	bid, ask int64 // last published quote in cents; ask == 0 before any
	bs, as   uint32
	bx, ax   byte
	ticks    int64 // prevailing spread, in ticks
	tradeID  int64
	allDay   bool // trades around the clock: phase is always regular (profile.allDay)
	phase    phase
	halted   bool
	haltEnd  int64
	nextImb  int64
	pending  uint8

	ring     [ringSize]printed
	ringLen  int
	ringNext int

	hist     [histSize]nbbo // checkpoints of the NBBO, for late reports
	histLen  int
	histNext int

	// IEX's own top of book in cents and round lots (iask == 0 before
	// any): never better than the NBBO, so never crossed either.
	ibid, iask int64
	ibs, ias   uint32
}

func newSymbol(p *profile, now int64, ph phase, rng *rand.Rand) symbol {
	jumps := (jumpsPerDay + p.flash) / nsPerDay
	if p.allDay {
		ph = regular // from the start, so that no opening cross is ever due
	}
	return symbol{
		name:       p.name,
		tape:       p.tape,
		listing:    p.listing,
		tier:       p.tier,
		sigma:      p.vol / math.Sqrt(nsPerYear),
		jumpRate:   jumps,
		spikeShare: p.flash / (jumpsPerDay + p.flash),
		// jumpsPerDay jumps of variance 2b² carry 1-diffusionShare of a
		// day's variance vol²/252.
		jumpScale:  p.vol * math.Sqrt((1-diffusionShare)/(252*2*jumpsPerDay)),
		spikeScale: p.vol * spikeScale,
		spread:     p.spread / 1e4,
		depth:      p.depth,
		adv:        p.adv * 1e6,
		sizes:      sizesFor(p.price),
		qx:         venueTable(quoteVenues, p.listing, 10),
		tx:         venueTable(tradeVenues, p.listing, 6),
		logPx:      math.Log(p.price),
		px:         p.price * 100,
		last:       now,
		nextJump:   now + int64(rng.ExpFloat64()/jumps),
		ref:        p.price,
		allDay:     p.allDay,
		phase:      ph,
	}
}

// resume continues y from a recorded state (see Options.Resume). The
// latent price starts at the recorded quote's midpoint, where the model
// keeps it (the NBBO is centred on the latent price), or at the last
// trade's price without a usable quote. The NBBO is the recorded one, so
// the start-up quote differs from it as little as any quote update does.
// The venues are not recorded; the listing venue, which posts most of the
// NBBO, stands in for them until each side changes.
func (y *symbol) resume(st *SymbolState) {
	y.tradeID = st.LastTradeID
	price := st.LastPrice
	if bid, ask := toCents(st.BidPrice), toCents(st.AskPrice); bid > 0 && bid < ask {
		y.bid, y.ask, y.ticks = bid, ask, ask-bid
		y.bs, y.as = max(1, st.BidSize), max(1, st.AskSize)
		y.bx, y.ax = y.listing, y.listing
		price = float64(bid+ask) / 200
	}
	if price <= 0 {
		return // nothing known: the profile's price stands
	}
	y.logPx = min(max(math.Log(price), 0), maxLogPx)
	y.px = math.Exp(y.logPx) * 100
	if y.logPx == math.Log(price) {
		y.px = price * 100 // exactly the midpoint, so the first quote keeps it
	}
	y.ref = y.px / 100
}

func cents(c int64) float64 { return float64(c) / 100 }

// toCents rounds a price in USD to the cent.
func toCents(p float64) int64 { return int64(math.Round(p * 100)) }

// bandWidth is the LULD percentage for a symbol at minute m: 5% for tier 1
// and 10% for tier 2 when the reference price is above $3, 20% for both
// tiers from $0.75 to $3, doubled during the first 15 minutes of the
// session, which a symbol trading around the clock never has. The plan's
// rule below $0.75 is not modelled: step floors the latent price at $1
// (transient spikes aside).
func (y *symbol) bandWidth(m, open int) float64 {
	w := 0.05
	switch {
	case y.ref <= 3:
		w = 0.20
	case y.tier == 2:
		w = 0.10
	}
	if !y.allDay && m >= open && m < open+openBandMinutes {
		w *= 2
	}
	return w
}

// Statuses are immutable and shared between events, as market.Event allows.
// Tapes A and B are CTA securities and use CTA's codes; tape C is UTP's.
var (
	statusCTATrading = market.Status{StatusCode: "3", StatusMsg: "Resume"}
	statusUTPTrading = market.Status{StatusCode: "T", StatusMsg: "Trading Resumption"}
	statusCTAHalt    = market.Status{StatusCode: "2", StatusMsg: "Trading Halt", ReasonCode: "M", ReasonMsg: "Limit Up-Limit Down (LULD) Trading Pause"}
	statusUTPHalt    = market.Status{StatusCode: "H", StatusMsg: "Trading Halt", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause"}
	statusCTAResume  = market.Status{StatusCode: "3", StatusMsg: "Resume", ReasonCode: "M", ReasonMsg: "Limit Up-Limit Down (LULD) Trading Pause"}
	statusUTPResume  = market.Status{StatusCode: "T", StatusMsg: "Trading Resumption", ReasonCode: "LUDP", ReasonMsg: "Volatility Trading Pause"}

	statuses = func() (t [3][3]*market.Status) { // [tape-'A'][trading, halt, resume]
		for i, tape := range []byte{'A', 'B', 'C'} {
			for j, st := range [3][2]market.Status{
				{statusCTATrading, statusUTPTrading},
				{statusCTAHalt, statusUTPHalt},
				{statusCTAResume, statusUTPResume},
			} {
				v := st[0]
				if tape == 'C' {
					v = st[1]
				}
				v.Tape = tape
				t[i][j] = &v
			}
		}
		return t
	}()
)

const (
	stTrading = iota
	stHalt
	stResume
)

var condQuote = market.Conditions{'R'}

func (y *symbol) event(now int64, k market.Kind) market.Event {
	return market.Event{Time: now, Symbol: y.name, Kind: k}
}

func (y *symbol) status(now int64, which int) market.Event {
	e := y.event(now, market.KindStatus)
	e.Status = statuses[y.tape-'A'][which]
	return e
}

// bootStock is the number of events of a stock's start-up snapshot.
const bootStock = 4

// bootEvent emits the start-up snapshot, symbol by symbol: for a stock
// the trading status, the LULD band, a first quote and IEX's first quote,
// for a crypto pair its whole book and its quote, so a receiver has a
// price for every symbol (on either view of a stock) from the first batch
// on.
func (s *Sim) bootEvent(dst []market.Event) []market.Event {
	i := s.boot
	s.boot++
	if n := bootStock * len(s.syms); i >= n {
		return s.bootPair(dst, &s.pairs[(i-n)/2], (i-n)%2)
	}
	y := &s.syms[i/bootStock]
	now := s.clock
	m := s.ny.minute(now)
	switch i % bootStock {
	case 0:
		return append(dst, y.status(now, stTrading))
	case 1:
		return append(dst, y.band(now, y.bandWidth(m, s.curves(y).open)))
	case 2:
		q, _ := s.quote(y, now, m) // sets IEX's book too, from nothing
		return append(dst, q)
	}
	return append(dst, y.iexQuote(now))
}

// curves are the intraday curves y follows today: the day's, or the flat
// ones of a symbol that trades around the clock. The clock must have
// loaded the day (s.ny.minute does).
func (s *Sim) curves(y *symbol) *intraday {
	if y.allDay {
		return allDayCurve
	}
	return s.ny.day.intraday
}

// arrive turns an arrival of the Poisson process, for y, into one event,
// and IEX's quote after an NBBO quote that moved IEX's book: at most
// maxStockEvents.
func (s *Sim) arrive(dst []market.Event, y *symbol) []market.Event {
	now := s.clock
	m := s.ny.minute(now)
	d := s.curves(y)
	ph := d.phase[m]

	if ph != y.phase {
		// Crossing into or out of the regular session: schedule the cross
		// and retire the band, which only applies within the session (the
		// opening band is published after the opening print sets the
		// reference). A symbol that trades around the clock never gets
		// here: its phase is always regular.
		switch {
		case ph == regular:
			y.pending |= pendOpen
		case y.phase == regular:
			y.pending = y.pending&^(pendOpen|pendReopen) | pendClose
		}
		y.phase, y.bandPct, y.up, y.down = ph, 0, 0, 0
	}
	if y.halted {
		if now < y.haltEnd {
			// A halted symbol neither quotes nor trades; its arrivals are
			// dropped except for a paced order imbalance indication.
			if now < y.nextImb {
				return dst
			}
			y.nextImb = now + imbalEvery
			s.step(y, now, m) // the indicated price moves during the pause
			e := y.event(now, market.KindImbalance)
			e.Imbalance = &market.Imbalance{Price: cents(int64(y.px + 0.5)), Tape: y.tape}
			return append(dst, e)
		}
		s.step(y, now, m)
		y.halted, y.ref, y.bandPct, y.up, y.down = false, y.px/100, 0, 0, 0
		if ph == regular {
			y.pending |= pendReopen
		}
		return append(dst, y.status(now, stResume))
	}

	s.step(y, now, m)
	if ph == regular && y.bandPct > 0 && (y.px > float64(y.up) || y.px < float64(y.down)) {
		y.halted, y.haltEnd, y.nextImb = true, now+haltNs, now
		y.pending &^= pendReopen
		y.endQuote(now)
		return append(dst, y.status(now, stHalt))
	}
	stale := y.px < float64(y.bid) || y.px > float64(y.ask)
	switch {
	case y.pending == 0:
	case stale:
		// A cross prints at the midpoint of the quote, which must
		// reflect the price the auction discovered: refresh it first.
		return s.quotes(dst, y, now, m)
	case y.pending&pendOpen != 0:
		y.pending &^= pendOpen
		return append(dst, s.cross(y, now, 'O', 0.01))
	case y.pending&pendClose != 0:
		y.pending &^= pendClose
		return append(dst, s.cross(y, now, '6', 0.08))
	case y.pending&pendReopen != 0:
		y.pending &^= pendReopen
		return append(dst, s.cross(y, now, '5', 0.003))
	}
	if ph == regular {
		// Publish a band when the width changes (09:30, 09:45) or the
		// reference has moved 1% since the last band, as the LULD plan does.
		if w := y.bandWidth(m, d.open); w != y.bandPct || math.Abs(y.ref-y.bandRef) > 0.01*y.bandRef {
			return append(dst, y.band(now, w))
		}
	}

	u := s.rng.Float64()
	if u >= tradeShare {
		return s.quotes(dst, y, now, m)
	}
	if u /= tradeShare; u < cancelRate+correctRate && y.ringLen > 0 {
		p := &y.ring[s.rng.IntN(y.ringLen)]
		if p.id != 0 { // not already cancelled
			if u < cancelRate {
				return append(dst, s.cancel(y, now, p))
			}
			return append(dst, s.correct(y, now, p))
		}
	}
	return append(dst, s.trade(y, now, ph, stale))
}

// step advances the latent price of y to now: a driftless geometric random
// walk whose variance grows with the elapsed time (so the path does not
// depend on Rate) scaled by the intraday volatility curve, plus the jumps
// and spikes described with the constants above. The LULD reference follows
// the price with a five-minute exponential average, a cheap stand-in for
// the plan's five-minute mean of trade prices.
func (s *Sim) step(y *symbol, now int64, m int) {
	dt := float64(now - y.last)
	if dt <= 0 {
		return
	}
	y.last = now
	y.logPx += y.sigma * s.curves(y).vol[m] * math.Sqrt(dt) * s.rng.NormFloat64()
	if y.spike != 0 {
		if y.spike *= math.Exp(-dt / spikeTauNs); math.Abs(y.spike) < 1e-5 {
			y.spike = 0
		}
	}
	if now >= y.nextJump {
		j := s.rng.ExpFloat64()
		if s.rng.Uint64()&1 == 0 {
			j = -j
		}
		if s.rng.Float64() < y.spikeShare {
			y.spike += j * y.spikeScale
		} else {
			y.logPx += j * y.jumpScale
		}
		y.nextJump = now + int64(s.rng.ExpFloat64()/y.jumpRate)
	}
	// Keep prices in a range where a cent tick and uint32 sizes make
	// sense: $1 to $100,000.
	y.logPx = min(max(y.logPx, 0), maxLogPx)
	y.px = math.Exp(y.logPx+y.spike) * 100
	y.ref += (y.px/100 - y.ref) * dt / (refTauNs + dt)
}

// band publishes a LULD band of width w around the current reference.
func (y *symbol) band(now int64, w float64) market.Event {
	y.bandPct, y.bandRef = w, y.ref
	y.up = int64(y.ref*(1+w)*100 + 0.5)
	y.down = int64(y.ref*(1-w)*100 + 0.5)
	e := y.event(now, market.KindLULD)
	e.LULD = &market.LULD{LimitUp: cents(y.up), LimitDown: cents(y.down), Indicator: 'B', Tape: y.tape}
	return e
}

// quotes appends a new NBBO quote (see quote) and, if it moved IEX's own
// book, IEX's quote at the same instant.
func (s *Sim) quotes(dst []market.Event, y *symbol, now int64, m int) []market.Event {
	q, iex := s.quote(y, now, m)
	dst = append(dst, q)
	if iex {
		dst = append(dst, y.iexQuote(now))
	}
	return dst
}

// quote publishes a new NBBO around the latent price. The NBBO is sticky,
// as the real one is: the prevailing spread is redrawn on a quarter of the
// updates only, and an update that leaves both prices where they were
// changes the size and venue of one side, which is what most real NBBO
// updates are. The spread is a per-symbol fraction of the price (so it
// widens with price) times the intraday curve (wide at the open and in
// extended hours), with an exponential tail, and never below one tick.
// IEX's book follows (iexFollow); iex reports whether it changed.
func (s *Sim) quote(y *symbol, now int64, m int) (q market.Event, iex bool) {
	d := s.curves(y)
	r := s.rng.Uint64()
	if y.ticks == 0 || r&3 == 0 {
		k := y.px * y.spread * d.spread[m]
		y.ticks = max(1, int64(k*(0.5+0.5*s.rng.ExpFloat64())+0.5))
	}
	depth := y.depth
	if d.phase[m] != regular {
		depth *= 0.3
	}
	bid := max(1, int64(math.Floor(y.px-float64(y.ticks)/2+0.5)))
	ask := bid + y.ticks
	pbid, pask := y.bid, y.ask
	lots := 1 + uint32(depth*s.rng.ExpFloat64())
	switch {
	case bid == y.bid && ask == y.ask && r&4 == 0:
		y.bs, y.bx = lots, y.qx[byte(r>>8)]
	case bid == y.bid && ask == y.ask:
		y.as, y.ax = lots, y.qx[byte(r>>16)]
	default:
		if bid != y.bid {
			y.bs, y.bx = lots, y.qx[byte(r>>8)]
		}
		if ask != y.ask {
			y.as, y.ax = 1+uint32(depth*s.rng.ExpFloat64()), y.qx[byte(r>>16)]
		}
		y.bid, y.ask = bid, ask
	}
	y.checkpoint(now)
	e := y.event(now, market.KindQuote)
	e.Quote = market.Quote{
		BidPrice:    cents(y.bid),
		AskPrice:    cents(y.ask),
		BidSize:     y.bs,
		AskSize:     y.as,
		BidExchange: y.bx,
		AskExchange: y.ax,
		Tape:        y.tape,
		Conditions:  condQuote,
	}
	return e, s.iexFollow(y, pbid, pask, depth)
}

// iexFollow moves IEX's own top of book after an NBBO update from
// pbid/pask to y's quote, and reports whether it changed. IEX is one of
// the venues that make up the NBBO, so its book is never better than the
// NBBO: a side the NBBO moved through is repriced, and so, at random, is
// a side whose NBBO price moved (IEX follows the market, sometimes a
// little late). A repriced side joins the NBBO or rests a tick or a few
// behind it. When the NBBO names IEX on a side, IEX's book is the NBBO's
// on that side, size included. Sizes are round lots, smaller than the
// NBBO's typical ones. Draws come from the IEX stream (Sim.irng), so the
// consolidated events are the same as without the IEX view.
func (s *Sim) iexFollow(y *symbol, pbid, pask int64, depth float64) bool {
	// One draw decides: bits 0-15 whether the bid follows a move, 16-31
	// where it goes, 32-63 the same for the ask; when the prices stood
	// still (neither side follows, bits 0-15 and 32-47 are unused), bits
	// 0-15 whether a size changes and bit 32 which.
	r := s.irng.Uint64()
	ob, oa, obs, oas := y.ibid, y.iask, y.ibs, y.ias
	fresh := y.iask == 0
	switch {
	case y.bx == market.IEXExchange:
		y.ibid, y.ibs = y.bid, y.bs
	case fresh || y.ibid > y.bid || y.bid != pbid && chance(r, iexFollowShare):
		y.ibid, y.ibs = max(1, y.bid-s.iexBehind(y, r>>16)), s.iexLots(depth)
	}
	switch {
	case y.ax == market.IEXExchange:
		y.iask, y.ias = y.ask, y.as
	case fresh || y.iask < y.ask || y.ask != pask && chance(r>>32, iexFollowShare):
		y.iask, y.ias = y.ask+s.iexBehind(y, r>>48), s.iexLots(depth)
	}
	if y.bid == pbid && y.ask == pask && y.ibid == ob && y.iask == oa && chance(r, iexSizeShare) {
		// The NBBO's prices stood still, and so did IEX's: one of its
		// sizes changes, as one of the NBBO's does.
		switch {
		case r>>32&1 == 0 && y.bx != market.IEXExchange:
			y.ibs = s.iexLots(depth)
		case y.ax != market.IEXExchange:
			y.ias = s.iexLots(depth)
		}
	}
	return y.ibid != ob || y.iask != oa || y.ibs != obs || y.ias != oas
}

// chance is true with probability p, given 16 random bits (the low ones of
// bits).
func chance(bits uint64, p float64) bool { return float64(bits&0xffff) < p*0x10000 }

// iexBehind is how far behind the NBBO, in cents, a repriced IEX side
// rests: 0 (at the NBBO) with probability iexInsideShare, else a tick or
// more, about iexBackoff times the spread further. bits are random.
func (s *Sim) iexBehind(y *symbol, bits uint64) int64 {
	if chance(bits, iexInsideShare) {
		return 0
	}
	return 1 + int64(float64(y.ask-y.bid)*iexBackoff*s.irng.ExpFloat64())
}

// iexLots draws the size of an IEX side, in round lots.
func (s *Sim) iexLots(depth float64) uint32 {
	return 1 + uint32(min(depth*iexDepth*s.irng.ExpFloat64(), 1e6))
}

// iexQuote publishes IEX's own top of book (KindIEXQuote).
func (y *symbol) iexQuote(now int64) market.Event {
	e := y.event(now, market.KindIEXQuote)
	e.Quote = market.Quote{
		BidPrice:    cents(y.ibid),
		AskPrice:    cents(y.iask),
		BidSize:     y.ibs,
		AskSize:     y.ias,
		BidExchange: market.IEXExchange,
		AskExchange: market.IEXExchange,
		Tape:        y.tape,
		Conditions:  condQuote,
	}
	return e
}

// checkpoint notes the quote just published at now. The previous
// checkpoint's prices stop prevailing if these differ; a new checkpoint is
// taken if the last one is histEvery old.
func (y *symbol) checkpoint(now int64) {
	if y.histLen > 0 {
		last := &y.hist[(y.histNext+histSize-1)%histSize]
		if last.to == 0 && (last.bid != y.bid || last.ask != y.ask) {
			last.to = now
		}
		if now-last.from < histEvery {
			return
		}
	}
	y.hist[y.histNext] = nbbo{from: now, bid: y.bid, ask: y.ask}
	y.histNext = (y.histNext + 1) % histSize
	y.histLen = min(y.histLen+1, histSize)
}

// endQuote ends the span of the last checkpoint at now: a halt suspends
// the quote, and no late report may be timed inside the halt.
func (y *symbol) endQuote(now int64) {
	if y.histLen > 0 {
		if last := &y.hist[(y.histNext+histSize-1)%histSize]; last.to == 0 {
			last.to = now
		}
	}
}

// lateQuote picks the time of a report generated at now that is d late,
// and the quote that prevailed then: the checkpoint in force at now-d if
// its prices still prevailed, else an instant within the latest earlier
// checkpoint's span (never its very first nanosecond, where it might tie
// with a quote). ok is false when no checkpoint fits 1-9 s behind now, as
// at the start of a run or after a long halt: the trade is then not late.
func (s *Sim) lateQuote(y *symbol, now, d int64) (t int64, q *nbbo, ok bool) {
	target := now - d
	for i := 1; i <= y.histLen; i++ {
		h := &y.hist[(y.histNext+histSize-i)%histSize]
		if h.from >= target {
			continue
		}
		to := h.to
		if to == 0 {
			to = now
		}
		switch {
		case target < to:
			t = target
		case to-h.from > 1:
			t = h.from + 1 + s.rng.Int64N(to-h.from-1)
		default:
			return 0, nil, false
		}
		return t, h, t >= now-lateMaxNs && t <= now-lateMinNs
	}
	return 0, nil, false
}

// remember adds a trade to the ring of recent trades.
func (y *symbol) remember(t *market.Trade) {
	y.ring[y.ringNext] = printed{t.ID, toCents(t.Price), t.Size, t.Exchange, t.Conditions}
	y.ringNext = (y.ringNext + 1) % ringSize
	y.ringLen = min(y.ringLen+1, ringSize)
}

// trade prints a trade at the bid, at the ask or strictly inside the
// quote. When the latent price has left the last published quote (the
// market moved since it was published: common at low Rates) the trade hits
// the side it moved towards, as a buyer lifting a stale offer would. A late
// report is timed 1-9 s back and priced within the quote of its own time,
// as the trade it reports was.
func (s *Sim) trade(y *symbol, now int64, ph phase, stale bool) market.Event {
	r := s.rng.Uint64()
	bid, ask := y.bid, y.ask
	late := s.rng.Float64() < lateRate
	if late {
		t, q, ok := s.lateQuote(y, now, lateMinNs+s.rng.Int64N(lateMaxNs-lateMinNs))
		if late = ok; ok {
			now, bid, ask, stale = t, q.bid, q.ask, false
			if !y.allDay {
				ph = s.phaseAt(t)
			}
		}
	}
	ticks := ask - bid
	price := bid
	switch v := (r >> 32) % 100; {
	case stale:
		if y.px > float64(ask) {
			price = ask
		}
	case ticks > 1 && v >= 84: // price improvement, mostly wholesalers
		price += 1 + s.rng.Int64N(ticks-1)
	case v >= 42 && (ticks > 1 || v >= 50):
		price = ask
	}

	size := y.sizes.draw(s.rng)

	t := market.Trade{Exchange: y.tx[byte(r)], Tape: y.tape}
	c := market.Conditions{'@'}
	n := 1
	switch v := s.rng.Float64(); {
	case v < derivRate:
		c[n], n, t.Exchange = '4', n+1, 'D'
	case ph == regular && v < derivRate+isoRate && t.Exchange != 'D':
		c[n], n = 'F', n+1
	}
	switch {
	case late && ph == regular:
		c[n], n = 'Z', n+1
	case late:
		c[n], n = 'U', n+1 // extended hours, sold out of sequence
	case ph != regular:
		c[n], n = 'T', n+1
	}
	if size < 100 {
		c[n] = 'I'
	}
	y.tradeID++
	t.ID, t.Price, t.Size, t.Conditions = y.tradeID, cents(price), size, c
	y.remember(&t)
	e := y.event(now, market.KindTrade)
	e.Trade = t
	return e
}

// tradeSizes is the size distribution of a symbol's continuous trades. The
// shape is that of the consolidated tape since odd lots were counted
// (2013) and dominated (2020s): most prints are odd lots or a single round
// lot, and the higher the price, the smaller the trade in shares. At a
// symbol's start price the mean is about 200 shares at $35, 70 at $230
// and 40 at $700, roughly what the SIP shows for INTC, AAPL and META, and
// what makes the daily volume realistic for the number of trades (see
// "Volume" in doc.go).
type tradeSizes struct {
	pOdd     float64 // probability of an odd lot (1-99 shares)
	oddScale float64 // mean odd lot, shares, before the cap at 99
	lotScale float64 // extra round lots are floor(lotScale * Exp(1))
	block    float64 // shares of a $1 block: blocks are $0.5M-$10M
}

// Shares of trades that are blocks and mixed lots (a round number of lots
// plus an odd lot); the rest are odd lots and round lots.
const (
	blockRate = 0.0002
	mixedRate = 0.04
)

func sizesFor(price float64) tradeSizes {
	// Extra lots have mean m: floor(c*X) for X ~ Exp(1) has mean
	// 1/(e^(1/c)-1), which is m for c = 1/ln(1+1/m).
	m := min(3, max(0.1, 0.8*math.Pow(50/price, 0.7)))
	return tradeSizes{
		// Odd lots are about a third of the prints at $35, over half at
		// $230 and three quarters at $700.
		pOdd:     min(0.8, max(0.25, 0.35+0.15*math.Log(price/50))),
		oddScale: min(40, max(5, 30*math.Sqrt(100/price))),
		lotScale: 1 / math.Log1p(1/m),
		block:    1 / price,
	}
}

func (z *tradeSizes) draw(rng *rand.Rand) uint32 {
	v := rng.Float64()
	if v < z.pOdd {
		return 1 + uint32(min(98, z.oddScale*rng.ExpFloat64()))
	}
	if v < z.pOdd+blockRate {
		notional := 0.5e6 * math.Pow(20, rng.Float64()) // log-uniform $0.5M-$10M
		return 100 * uint32(min(max(1, notional*z.block/100+0.5), 1e6))
	}
	lots := 1 + uint32(min(49, z.lotScale*rng.ExpFloat64()))
	if v < z.pOdd+blockRate+mixedRate {
		return 100*lots + 1 + uint32(rng.IntN(99))
	}
	return 100 * lots
}

// cross prints an auction: the opening ('O'), closing ('6') or reopening
// ('5') cross on the listing exchange, sized as a fraction of daily volume.
func (s *Sim) cross(y *symbol, now int64, cond byte, frac float64) market.Event {
	size := y.adv * frac * math.Exp(0.4*s.rng.NormFloat64())
	y.tradeID++
	t := market.Trade{
		ID:         y.tradeID,
		Price:      cents((y.bid + y.ask) / 2),
		Size:       uint32(min(max(100, size), 4e9)) / 100 * 100,
		Exchange:   y.listing,
		Tape:       y.tape,
		Conditions: market.Conditions{'@', cond},
	}
	if cond == 'O' {
		y.ref = t.Price // the opening print is the first LULD reference
	}
	y.remember(&t)
	e := y.event(now, market.KindTrade)
	e.Trade = t
	return e
}

// cancel cancels (or, rarely, errors) a recent trade.
func (s *Sim) cancel(y *symbol, now int64, p *printed) market.Event {
	action := byte('C')
	if s.rng.IntN(10) == 0 {
		action = 'E'
	}
	e := y.event(now, market.KindCancelError)
	e.CancelError = &market.CancelError{ID: p.id, Price: cents(p.price), Size: p.size,
		Exchange: p.exch, Tape: y.tape, Action: action}
	p.id = 0
	return e
}

// correct corrects a recent trade's price by a cent or its size by a lot;
// the corrected trade gets a fresh ID and replaces the original in the ring.
func (s *Sim) correct(y *symbol, now int64, p *printed) market.Event {
	y.tradeID++
	c := &market.Correction{Exchange: p.exch, Tape: y.tape,
		OrigID: p.id, OrigPrice: cents(p.price), OrigSize: p.size, OrigConds: p.conds,
		CorrID: y.tradeID, CorrConds: p.conds}
	switch s.rng.IntN(3) {
	case 0:
		p.price++
	case 1:
		p.price = max(1, p.price-1)
	default:
		p.size += 100
	}
	p.id = y.tradeID
	c.CorrPrice, c.CorrSize = cents(p.price), p.size
	e := y.event(now, market.KindCorrection)
	e.Correction = c
	return e
}
