package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// Options configures a Sim. The zero value is usable: every zero field means
// its default.
type Options struct {
	// Symbols to simulate; nil means DefaultSymbols. Any US equity symbol
	// is accepted: 1-16 upper-case letters and digits, starting with a
	// letter, with single '.' or '-' separators (BRK.B). DefaultSymbols
	// have built-in profiles; any other symbol gets a plausible one derived
	// from its name alone, the same in every run whatever the Seed.
	Symbols []string
	// Seed selects the random stream. The same Seed and Start give the same
	// event sequence (on the same platform and Go release).
	Seed int64
	// Rate is the long-run average number of messages per second of
	// simulated time, over all symbols, stocks and crypto pairs together
	// (shared by weight, see CryptoSymbols); default 1000. The intraday curve
	// moves the momentary rate around it (the open runs at several times
	// Rate, a night-time minute at a tenth of it). It counts the
	// consolidated messages: IEX's own quotes (market.KindIEXQuote, the
	// iex feed's view of a stock) come on top, a quarter to a half as many
	// as the NBBO quotes (see doc.go).
	Rate float64
	// Speed is how many simulated seconds pass per wall-clock second in
	// Run: 0 or 1 is real time, 10 is ten times faster, math.Inf(1) is as
	// fast as the receiver takes batches.
	Speed float64
	// Start is the simulated clock at the first event; zero means
	// time.Now() truncated to the second.
	Start time.Time
	// BatchSize caps the events per feed.Batch; default 512. With stocks
	// it is at least 2: a stock quote and IEX's quote that it moved go in
	// one batch. With crypto pairs it is at least 3: the events one crypto
	// arrival makes (a trade, its book update and the new quote) go in
	// one batch.
	BatchSize int
	// CryptoSymbols are the crypto pairs to simulate, as Alpaca writes
	// them: a coin, a slash and the quote currency (USD, USDT, USDC or
	// BTC), like "BTC/USD". nil means none, so that a zero Options keeps
	// the stock stream it always had; DefaultCryptoSymbols is a familiar
	// set. The built-in coins (BTC, ETH, SOL, XRP, DOGE, LTC, AVAX, LINK,
	// BCH, DOT, UNI, AAVE, SHIB, USDT, USDC) have profiles; any other gets
	// one derived from its name. Pairs trade around the clock (see
	// doc.go). Rate is shared: stocks and crypto each get their symbols'
	// share of the total weight, so adding DefaultCryptoSymbols to the
	// default stocks gives crypto about a fifth of the messages.
	CryptoSymbols []string
	// Resume continues a recorded market instead of starting each symbol
	// from its profile: for every simulated symbol it names, the latent
	// price starts from the recorded quote's midpoint (else the last
	// trade's price), the NBBO continues from the recorded quote, and
	// trade IDs continue above LastTradeID, so that a restart on the same
	// record neither repeats an ID nor jumps in price. Symbols it names
	// that are not simulated are ignored; nil means a fresh start. Start
	// must not be before any LastTime: the simulated clock continues the
	// record, it does not rewrite it. Time between the record's end and
	// Start does not move the price (the market resumes where it stopped).
	Resume map[string]SymbolState
	// Sessions says on which New York days the stock market trades, and
	// when. It is called whenever the simulated clock enters a new day,
	// so it should be cheap (a calendar lookup). nil makes every day a
	// trading day from 09:30 to 16:00, so that a developer working at any
	// hour sees a live market. On a closed day the stocks keep the night's
	// trickle (quotes and "T" prints, no auctions, no LULD bands) all day;
	// an early close moves the closing cross and the U of the session
	// with it, and after-hours end four hours after the close. Rate stays
	// the average over a standard day, so closed days and early closes
	// have fewer messages, as they do in reality. FAKEPACA ignores
	// Sessions: it trades around the clock as in a regular session, as on
	// Alpaca's test stream (see doc.go).
	Sessions SessionFunc
	// News is the average number of news articles per simulated hour
	// (KindNews events: earnings, analyst actions, corporate news, movers,
	// crypto), over all the simulated symbols; 0 means none. Articles
	// follow a daily curve (busiest before the open and after the close,
	// a quarter of the pace at the weekend), a tenth of them are updated
	// later (the same ID, a later UpdatedAt), and their templates quote
	// the symbols' current prices. News has its own random stream, so the
	// market's events are the same with or without it. 6 is a plausible
	// flow for the default symbols.
	News float64
}

// SymbolState is what a record holds last for one symbol: all a restarted
// simulator needs to continue it seamlessly (see Options.Resume). Zero
// prices and sizes mean unknown.
type SymbolState struct {
	// LastTradeID is the largest trade ID recorded for the symbol
	// (corrections' new IDs included): every new ID is above it.
	LastTradeID int64
	LastPrice   float64 // the last trade's price, USD
	LastTime    int64   // the last recorded event's time, ns since the Unix epoch
	// The last NBBO, used when 0 < BidPrice < AskPrice. A crypto pair
	// uses the prices only: its start-up snapshot rebuilds the book, with
	// fresh fractional sizes, around their midpoint.
	BidPrice, AskPrice float64
	BidSize, AskSize   uint32 // round lots
}

const (
	defaultRate  = 1000
	maxRate      = 1e8 // beyond this events would share nanoseconds
	defaultBatch = 512
	iexStream    = 0x1e_7b00_c0de // PCG stream of IEX's own book (Sim.irng)
	// sliceNs is the longest stretch of simulated time one batch covers,
	// so receivers see the clock advance smoothly even when batches are
	// far from full.
	sliceNs = int64(10 * time.Millisecond)
)

// Sim is a deterministic market simulator. It implements feed.Feed; Next
// exposes the generator without pacing. A Sim is not safe for concurrent
// use: one goroutine runs it.
type Sim struct {
	rng *rand.Rand
	// irng draws IEX's own book (iexFollow), apart from rng, so that the
	// consolidated events are the same as they were before the IEX view.
	irng *rand.Rand
	syms []symbol
	// Stocks arrive in two flows: those that follow the calendar at the
	// day's curve, and those that trade around the clock (profile.allDay)
	// at a constant intensity, which the curve cannot give them.
	stocks     picker
	allDay     picker
	allDayRate float64 // arrivals of the all-day stocks per ns
	ny         nyClock // with the day's curves and arrival intensities

	pairs      []pair // crypto pairs, with their own alias table and arrivals
	pprob      []float64
	palias     []int32
	cryptoRate float64            // crypto arrivals per ns at a curve value of 1
	levels     []market.BookLevel // scratch for order book updates

	clock   int64 // simulated time up to which events were generated
	next    int64 // time of the next arrival of a calendar stock; MaxInt64 without any
	anext   int64 // time of the next arrival of an all-day stock; MaxInt64 without any
	cnext   int64 // time of the next crypto arrival; MaxInt64 without pairs
	boot    int   // progress through the start-up snapshot
	bootLen int   // events in the start-up snapshot
	batch   int
	speed   float64

	news  *newsGen // nil without Options.News
	nnext int64    // time of the next article or update; MaxInt64 without news
}

// New validates opts and returns a simulator positioned at opts.Start.
func New(opts Options) (*Sim, error) {
	switch r := opts.Rate; {
	case r == 0:
		opts.Rate = defaultRate
	case math.IsNaN(r) || r < 0 || r > maxRate:
		return nil, fmt.Errorf("sim: Rate %v out of range (0, %g]", r, float64(maxRate))
	}
	switch sp := opts.Speed; {
	case sp == 0:
		opts.Speed = 1
	case math.IsNaN(sp) || sp < 0:
		return nil, fmt.Errorf("sim: invalid Speed %v", sp)
	}
	switch {
	case opts.BatchSize == 0:
		opts.BatchSize = defaultBatch
	case opts.BatchSize < 0:
		return nil, fmt.Errorf("sim: invalid BatchSize %d", opts.BatchSize)
	}
	if n := opts.News; math.IsNaN(n) || n < 0 || n > maxRate {
		return nil, fmt.Errorf("sim: News %v out of range [0, %g]", n, float64(maxRate))
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now().Truncate(time.Second)
	}
	// UnixNano is only defined within about 1678..2262.
	if y := opts.Start.Year(); y < 1970 || y >= 2200 {
		return nil, fmt.Errorf("sim: Start %v out of range [1970, 2200)", opts.Start)
	}
	if opts.Symbols == nil {
		opts.Symbols = DefaultSymbols
	}
	if len(opts.Symbols) == 0 && len(opts.CryptoSymbols) == 0 {
		return nil, errors.New("sim: no symbols")
	}

	profs, pairProfs, stockWeight, cryptoWeight, err := resolve(opts.Symbols, opts.CryptoSymbols)
	if err != nil {
		return nil, err
	}
	for _, name := range append(opts.Symbols[:len(opts.Symbols):len(opts.Symbols)], opts.CryptoSymbols...) {
		if st, ok := opts.Resume[name]; ok {
			if err := checkState(name, &st, opts.Start.UnixNano()); err != nil {
				return nil, err
			}
		}
	}

	s := &Sim{
		rng:   rand.New(rand.NewPCG(uint64(opts.Seed), 0x7a9e_5eed_0f_7a9e)),
		irng:  rand.New(rand.NewPCG(uint64(opts.Seed), iexStream)),
		batch: opts.BatchSize,
		speed: opts.Speed,
		clock: opts.Start.UnixNano(),
		next:  math.MaxInt64,
		anext: math.MaxInt64,
		cnext: math.MaxInt64,
		nnext: math.MaxInt64,
	}
	// Rate is shared by weight: each flow gets its symbols' share of a
	// standard day's messages, spread over its own curve (each has mean 1,
	// the all-day stocks' flat one aside, which dayWeight accounts for).
	total := stockWeight + cryptoWeight
	allDayWeight := 0.0
	for i := range profs {
		if profs[i].allDay {
			allDayWeight += profs[i].dayWeight()
		}
	}
	s.ny.cal = &calendar{sessions: opts.Sessions, rate: opts.Rate * (stockWeight - allDayWeight) / total}
	s.allDayRate = opts.Rate * allDayWeight / total / 1e9
	startPhase := s.ny.day.phase[s.ny.minute(s.clock)]
	var calSyms, allDaySyms []int32
	var calWeights, allDayWeights []float64
	for i := range profs {
		p := &profs[i]
		y := newSymbol(p, s.clock, startPhase, s.rng)
		if st, ok := opts.Resume[p.name]; ok {
			y.resume(&st)
		}
		s.syms = append(s.syms, y)
		if p.allDay {
			allDaySyms, allDayWeights = append(allDaySyms, int32(i)), append(allDayWeights, p.weight)
		} else {
			calSyms, calWeights = append(calSyms, int32(i)), append(calWeights, p.weight)
		}
	}
	s.stocks, s.allDay = newPicker(calSyms, calWeights), newPicker(allDaySyms, allDayWeights)
	if len(pairProfs) > 0 {
		weights := make([]float64, len(pairProfs))
		for i := range pairProfs {
			p := &pairProfs[i]
			pr := newPair(p, s.clock, s.rng)
			if st, ok := opts.Resume[p.name]; ok {
				pr.resume(&st)
			}
			s.pairs = append(s.pairs, pr)
			weights[i] = p.weight
		}
		s.pprob, s.palias = aliasTable(weights)
		s.cryptoRate = opts.Rate * cryptoWeight / total / cryptoEventsPerArrival / 1e9
		s.levels = make([]market.BookLevel, 0, 4*(bookDepth+1))
		// One crypto arrival makes up to three events, and never spans
		// two batches (see Next).
		s.batch = max(s.batch, maxCryptoEvents)
	}
	if opts.News > 0 {
		s.news = newNewsGen(opts.Seed, opts.News, s.clock, profs, pairProfs, s.priceOf)
		s.nnext = s.news.when()
	}
	s.bootLen = bootStock*len(s.syms) + 2*len(s.pairs)
	if len(s.syms) > 0 {
		// A stock quote comes with IEX's, in the same batch (see Next).
		s.batch = max(s.batch, maxStockEvents)
	}
	if len(s.stocks.syms) > 0 {
		s.next = s.nextArrival(s.clock)
	}
	if len(s.allDay.syms) > 0 {
		s.anext = s.nextAllDayArrival(s.clock)
	}
	if len(s.pairs) > 0 {
		s.cnext = s.nextCryptoArrival(s.clock)
	}
	return s, nil
}

// resolve validates the stock symbols and crypto pairs of a simulation and
// returns their profiles and the total weight of each class over a
// standard day (which shares Rate between them).
func resolve(symbols, cryptoSymbols []string) (profs []profile, pairProfs []pairProfile, stockWeight, cryptoWeight float64, err error) {
	seen := make(map[string]bool, len(symbols)+len(cryptoSymbols))
	profs = make([]profile, 0, len(symbols))
	for _, name := range symbols {
		switch {
		case !validSymbol(name):
			hint := ""
			if up := strings.ToUpper(name); validSymbol(up) {
				hint = fmt.Sprintf(" (did you mean %q?)", up)
			}
			return nil, nil, 0, 0, fmt.Errorf("sim: invalid symbol %q%s: want 1-%d upper-case letters or digits, "+
				"starting with a letter, with single '.' or '-' separators, like AAPL or BRK.B", name, hint, maxSymbolLen)
		case seen[name]:
			return nil, nil, 0, 0, fmt.Errorf("sim: duplicate symbol %q", name)
		}
		seen[name] = true
		profs = append(profs, profileFor(name))
		stockWeight += profs[len(profs)-1].dayWeight()
	}
	pairProfs = make([]pairProfile, 0, len(cryptoSymbols))
	for _, name := range cryptoSymbols {
		if _, _, ok := splitPair(name); !ok {
			hint := ""
			if up := strings.ToUpper(name); up != name {
				if _, _, ok := splitPair(up); ok {
					hint = fmt.Sprintf(" (did you mean %q?)", up)
				}
			}
			return nil, nil, 0, 0, fmt.Errorf("sim: invalid crypto pair %q%s: want a coin of 1-%d upper-case letters or digits, "+
				"a slash and one of %s, like BTC/USD", name, hint, maxCoinLen, strings.Join(cryptoQuotes, ", "))
		}
		if seen[name] {
			return nil, nil, 0, 0, fmt.Errorf("sim: duplicate symbol %q", name)
		}
		seen[name] = true
		pairProfs = append(pairProfs, pairProfileFor(name))
		cryptoWeight += pairProfs[len(pairProfs)-1].weight
	}
	return profs, pairProfs, stockWeight, cryptoWeight, nil
}

// checkState rejects a resume state that cannot come from a record: a
// negative ID, a price that is not a finite non-negative number, or a time
// after Start.
func checkState(name string, st *SymbolState, start int64) error {
	for _, p := range []float64{st.LastPrice, st.BidPrice, st.AskPrice} {
		if math.IsNaN(p) || math.IsInf(p, 0) || p < 0 {
			return fmt.Errorf("sim: resume state of %s: invalid price %v", name, p)
		}
	}
	switch {
	case st.LastTradeID < 0:
		return fmt.Errorf("sim: resume state of %s: negative trade ID %d", name, st.LastTradeID)
	case st.LastTime > start:
		return fmt.Errorf("sim: resume state of %s: last time %v is after Start %v", name,
			time.Unix(0, st.LastTime).UTC(), time.Unix(0, start).UTC())
	}
	return nil
}

// Next appends the next events, at most BatchSize of them, to dst and returns
// the extended slice and the simulated clock: every event up to that time has
// been generated (late reports excepted, which carry older timestamps by
// design). A call never crosses a 10 ms boundary of simulated time, so a quiet
// market yields calls that return no events and a clock 10 ms further on.
//
// Next never sleeps and never reads the wall clock; with the same Seed and
// Start the sequence of events is the same however the calls are batched.
func (s *Sim) Next(dst []market.Event) ([]market.Event, int64) {
	limit := len(dst) + s.batch
	for s.boot < s.bootLen && len(dst) < limit {
		dst = s.bootEvent(dst)
	}
	end := (s.clock/sliceNs + 1) * sliceNs
	for len(dst) < limit {
		t := min(s.next, s.anext, s.cnext, s.nnext)
		switch {
		case t >= end:
			s.clock = end
			return dst, end
		case (s.next == t || s.anext == t) && len(dst)+maxStockEvents > limit:
			// A stock quote and IEX's go in one batch: leave the arrival,
			// undrawn, for the next call (as a crypto arrival below).
			return dst, s.clock
		case s.next == t:
			s.clock = t
			dst = s.arrive(dst, &s.syms[s.stocks.pick(s.rng)])
			s.next = s.nextArrival(t)
		case s.anext == t:
			s.clock = t
			dst = s.arrive(dst, &s.syms[s.allDay.pick(s.rng)])
			s.anext = s.nextAllDayArrival(t)
		case s.nnext == t:
			s.clock = t
			dst = s.news.emit(dst, t)
			s.nnext = s.news.when()
		case len(dst)+maxCryptoEvents > limit:
			// The arrival's events must all go in one batch: leave it,
			// undrawn, for the next call, so the random stream and thus
			// the events do not depend on the batching.
			return dst, s.clock
		default:
			s.clock = t
			dst = s.arrivePair(dst)
			s.cnext = s.nextCryptoArrival(t)
		}
	}
	return dst, s.clock
}

// nextArrival draws the time of the calendar stocks' arrival after t from
// the inhomogeneous Poisson process with intensity Rate*shape. It draws one
// unit-exponential amount of "expected messages" and spends it minute by
// minute along the curve (a time change), which is exact for a
// piecewise-constant intensity and costs one division when the next
// arrival lies in the same minute.
func (s *Sim) nextArrival(t int64) int64 {
	need := s.rng.ExpFloat64()
	for {
		tod := s.ny.tod(t)
		m := tod / minuteNs
		end := min(t+(m+1)*minuteNs-tod, s.ny.hi)
		r := s.ny.day.rate[m]
		avail := float64(end-t) * r
		if need < avail {
			return t + int64(need/r+0.5)
		}
		need -= avail
		t = end
	}
}

// nextAllDayArrival draws the time of the all-day stocks' arrival after t:
// their intensity is constant, so the gap is simply exponential. A gap
// beyond the end of time (at an absurdly low Rate) means never.
func (s *Sim) nextAllDayArrival(t int64) int64 {
	gap := s.rng.ExpFloat64()/s.allDayRate + 0.5
	if gap >= 1<<62 || int64(gap) > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + int64(gap)
}

// priceOf is a symbol's current latent price (a stock's in dollars, a
// pair's in its quote currency), for the news templates; 0 if unknown.
func (s *Sim) priceOf(sym string) float64 {
	for i := range s.syms {
		if s.syms[i].name == sym {
			return math.Round(s.syms[i].px) / 100
		}
	}
	for i := range s.pairs {
		if p := &s.pairs[i]; p.name == sym {
			return math.Round(p.px) / p.pxScale
		}
	}
	return 0
}

// aliasTable builds Vose's alias tables, so that picking the symbol of an
// arrival costs one random draw whatever the number of symbols.
func aliasTable(w []float64) ([]float64, []int32) {
	n := len(w)
	total := 0.0
	for _, x := range w {
		total += x
	}
	prob := make([]float64, n)
	alias := make([]int32, n)
	var small, large []int
	for i, x := range w {
		prob[i] = x * float64(n) / total
		if prob[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		alias[l] = int32(g)
		prob[g] += prob[l] - 1
		if prob[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	for _, i := range append(small, large...) {
		prob[i] = 1 // leftovers are 1 up to rounding
	}
	return prob, alias
}

// picker picks the stock of an arrival in one flow by weight, with one
// random draw whatever the number of stocks.
type picker struct {
	syms  []int32 // the flow's stocks, as indices into Sim.syms
	prob  []float64
	alias []int32
}

func newPicker(syms []int32, weights []float64) picker {
	p := picker{syms: syms}
	if len(syms) > 0 {
		p.prob, p.alias = aliasTable(weights)
	}
	return p
}

func (p *picker) pick(rng *rand.Rand) int32 {
	u := rng.Float64() * float64(len(p.prob))
	i := int(u)
	if u-float64(i) >= p.prob[i] {
		i = int(p.alias[i])
	}
	return p.syms[i]
}
