package options

import (
	"math"
	"slices"
	"time"

	"github.com/tapehq/tape/internal/calendar"
)

// Minute is one minute of the underlying in a regular session: its minute
// bar.
type Minute struct {
	Start                  int64 // ns since the epoch
	Open, High, Low, Close float64
	Trades                 uint64 // the underlying's trade count: how busy the minute was
}

// Trade is one simulated option trade.
type Trade struct {
	Time      int64 // ns since the epoch
	Price     float64
	Size      uint32
	Exchange  byte
	Condition byte
}

// Quote is a simulated option NBBO.
type Quote struct {
	Time                     int64
	Bid, Ask                 float64
	BidSize, AskSize         uint32
	BidExchange, AskExchange byte
	Condition                byte
}

// Exchanges are the OPRA participants the simulation prints on (OPRA's
// own code, O, is for OPRA's messages, not trades).
const Exchanges = "ABCDEHIJMNPQTUWXZ"

// Conditions the simulation uses.
const (
	CondAuto    = 'I' // trade: executed electronically
	CondAuction = 'a' // trade: single leg auction, not an ISO
	CondISO     = 'S' // trade: intermarket sweep order
	CondQuote   = 'A' // quote: regular, eligible for automatic execution
)

// sizes are trade sizes in contracts, repeated by how often they print.
var sizes = [...]uint32{1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 10, 10, 15, 20, 25, 50, 100}

// key is the contract's hash, the seed of everything drawn for it.
func (c Contract) key() uint64 {
	var buf [24]byte
	b := c.AppendSymbol(buf[:0])
	h := uint64(14695981039346656037)
	for _, x := range b {
		h = (h ^ uint64(x)) * 1099511628211
	}
	return mix(h)
}

// mix is SplitMix64's finaliser: a cheap, well-spread 64-bit hash step.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Rate returns the expected number of trades of c in minute m with the
// underlying at s: it follows the underlying's activity and falls away
// from the money and with time to expiry.
func (c Contract) rate(m *Minute, s float64, expires int64) float64 {
	if m.Start >= expires || !(s > 0) {
		return 0
	}
	days := float64(expires-m.Start) / float64(24*time.Hour)
	var life float64
	switch {
	case days < 1:
		life = 2
	case days < 7:
		life = 1.2
	case days < 30:
		life = 0.7
	case days < 90:
		life = 0.35
	default:
		life = 0.15
	}
	money := math.Exp(-15 * math.Abs(math.Log(c.Strike()/s)))
	return min(6, 0.03*float64(m.Trades)) * money * life
}

// TradesIn appends c's trades during minute m to dst, in time order. The
// same contract and minute always give the same trades. A walk over many
// minutes should use a Tape, which does the per-contract work once.
func (c Contract) TradesIn(m Minute, dst []Trade) []Trade {
	t := c.Tape()
	return t.TradesIn(m, dst)
}

// Tape is a contract ready to draw its trades minute after minute.
type Tape struct {
	c               Contract
	key             uint64
	listed, expires int64
}

// Tape returns c's Tape.
func (c Contract) Tape() Tape {
	return Tape{c: c, key: c.key(), listed: c.Listed().Time().UnixNano(), expires: c.Expires().UnixNano()}
}

// TradesIn appends the contract's trades during minute m to dst, in time
// order: none before its listing or after its expiration.
func (t *Tape) TradesIn(m Minute, dst []Trade) []Trade {
	if m.Start < t.listed {
		return dst
	}
	return t.c.tradesIn(t.key, t.expires, &m, dst)
}

func (c Contract) tradesIn(key uint64, expires int64, m *Minute, dst []Trade) []Trade {
	lambda := c.rate(m, m.Open, expires)
	if lambda <= 0 {
		return dst
	}
	seed := mix(key ^ uint64(m.Start))
	n := poisson(lambda, unit(seed))
	if n == 0 {
		return dst
	}
	var fr [32]float64
	for i := range n {
		fr[i] = unit(mix(seed + uint64(i+1)))
	}
	slices.Sort(fr[:n])
	lowFirst := seed&1 == 0
	for i := range n {
		h := mix(seed ^ uint64(i+1)<<32)
		t := m.Start + int64(fr[i]*float64(time.Minute))
		if t >= expires {
			break
		}
		v := c.value(m.pathAt(fr[i], lowFirst), max(0, float64(expires-t)/yearNs))
		bid, ask := c.BidAsk(v.Price)
		tick := c.Tick(v.Price)
		p := roundTo(bid+(ask-bid)*unit(h), tick)
		p = max(p, tick)
		cond := byte(CondAuto)
		switch u := unit(mix(h)); {
		case u > 0.95:
			cond = CondISO
		case u > 0.85:
			cond = CondAuction
		}
		dst = append(dst, Trade{Time: t, Price: p, Size: sizes[h>>8%uint64(len(sizes))],
			Exchange: Exchanges[h>>24%uint64(len(Exchanges))], Condition: cond})
	}
	return dst
}

// poisson draws from a Poisson distribution of mean lambda by inverting
// its distribution function at u; at most 30.
func poisson(lambda, u float64) int {
	p := math.Exp(-lambda)
	cdf := p
	n := 0
	for u > cdf && n < 30 {
		n++
		p *= lambda / float64(n)
		cdf += p
	}
	return n
}

// pathAt is the underlying's price a fraction f through the minute, on a
// path from the open to the low and the high (in an order drawn for the
// minute) to the close.
func (m *Minute) pathAt(f float64, lowFirst bool) float64 {
	a, b := m.High, m.Low
	if lowFirst {
		a, b = m.Low, m.High
	}
	pts := [4]float64{m.Open, a, b, m.Close}
	total := math.Abs(a-m.Open) + math.Abs(b-a) + math.Abs(m.Close-b)
	if total == 0 {
		return m.Open
	}
	pos := f * total
	for i := range 3 {
		seg := math.Abs(pts[i+1] - pts[i])
		if pos <= seg && seg > 0 {
			return pts[i] + (pts[i+1]-pts[i])*pos/seg
		}
		pos -= seg
	}
	return m.Close
}

// QuoteAt returns c's quote with the underlying at s at time ns.
func (c Contract) QuoteAt(s float64, ns int64) Quote {
	return c.QuoteOf(c.Value(s, ns), ns)
}

// QuoteOf returns c's quote at time ns around its value v there (as Value
// gives it).
func (c Contract) QuoteOf(v Value, ns int64) Quote {
	bid, ask := c.BidAsk(v.Price)
	h := mix(c.key() ^ uint64(ns))
	q := Quote{Time: ns, Bid: bid, Ask: ask, Condition: CondQuote,
		BidSize: 1 + uint32(h%200), AskSize: 1 + uint32(h>>16%200),
		BidExchange: Exchanges[h>>32%uint64(len(Exchanges))], AskExchange: Exchanges[h>>40%uint64(len(Exchanges))]}
	if bid == 0 {
		q.BidSize = 0
	}
	return q
}

// Sessions tells the regular session of each day, remembering the last
// day asked so that a walk over minutes consults the calendar once a day.
type Sessions struct {
	day         calendar.Date
	known       bool
	open, close int64
}

// Regular reports whether the minute starting at ns is in a regular
// session (options trade 09:30 to 16:00, to 13:00 on early closes).
func (s *Sessions) Regular(ns int64) bool {
	d := calendar.DateOf(time.Unix(0, ns))
	if !s.known || d != s.day {
		s.day, s.known = d, true
		s.open, s.close = 0, 0
		if td, ok := calendar.TradingDay(d); ok {
			s.open, s.close = td.Open.UnixNano(), td.Close.UnixNano()
		}
	}
	return ns >= s.open && ns < s.close
}
