package sim

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// A Saturday, for crypto's weekend, and the Monday after it.
var (
	saturday = at(2025, time.July, 19, 0, 0)
	monday   = at(2025, time.July, 21, 0, 0)
)

// cryptoChecker verifies the crypto stream as a client sees it: it keeps
// each pair's order book from the snapshot and the updates, and checks the
// quotes and trades against it.
type cryptoChecker struct {
	t        *testing.T
	books    map[string]*[2]map[float64]float64 // price -> size; [0] bids, [1] asks
	quotes   map[string]market.CryptoQuote
	lastID   map[string]int64
	lastTime map[string]int64
	kinds    map[market.Kind]int
	takers   map[string]int
	spreads  map[string][]float64 // basis points, at every quote
	mids     map[string][]float64
	firstID  map[string]int64
	trades   map[string][]market.CryptoTrade
	batches  int
	failures int
}

func newCryptoChecker(t *testing.T) *cryptoChecker {
	return &cryptoChecker{t: t, books: map[string]*[2]map[float64]float64{}, quotes: map[string]market.CryptoQuote{},
		lastID: map[string]int64{}, lastTime: map[string]int64{}, kinds: map[market.Kind]int{}, takers: map[string]int{},
		spreads: map[string][]float64{}, mids: map[string][]float64{}, firstID: map[string]int64{},
		trades: map[string][]market.CryptoTrade{}}
}

func (c *cryptoChecker) errorf(e *market.Event, format string, args ...any) {
	c.t.Helper()
	if c.failures++; c.failures <= 10 {
		c.t.Errorf("%s %s %v: "+format, append([]any{e.Timestamp().Format(time.RFC3339Nano), e.Symbol, e.Kind}, args...)...)
	}
}

// best returns a side's best level and the number of levels.
func best(side map[float64]float64, bids bool) (px, sz float64, n int) {
	first := true
	for p, s := range side {
		if first || (bids && p > px) || (!bids && p < px) {
			px, sz, first = p, s, false
		}
	}
	return px, sz, len(side)
}

// onGrid reports whether x is a whole number of 10^-dec.
func onGrid(x float64, dec int) bool {
	v := x * math.Pow10(dec)
	return math.Abs(v-math.Round(v)) <= 1e-6*math.Max(1, v)
}

// batch checks the crypto events of a batch; stock events go to stocks
// (which may be nil when there are none).
func (c *cryptoChecker) batch(stocks *checker, events []market.Event, now int64) {
	var rest []market.Event
	for i := range events {
		e := &events[i]
		if e.Kind.Class() != market.ClassCrypto {
			rest = append(rest, *e)
			continue
		}
		c.event(e, now)
	}
	if stocks != nil {
		stocks.batch(rest, now)
	} else if len(rest) > 0 {
		c.t.Errorf("%d stock events without stocks", len(rest))
	}
	// An arrival's events never straddle batches, so between batches
	// every book's best levels are the latest quote.
	for sym, q := range c.quotes {
		b := c.books[sym]
		bp, bs, _ := best(b[0], true)
		ap, as, _ := best(b[1], false)
		if bp != q.BidPrice || bs != q.BidSize || ap != q.AskPrice || as != q.AskSize {
			c.t.Errorf("%s: after a batch the book's top %v x %v / %v x %v differs from the quote %+v", sym, bp, bs, ap, as, q)
		}
	}
	c.batches++
}

func (c *cryptoChecker) event(e *market.Event, now int64) {
	c.kinds[e.Kind]++
	if _, _, ok := splitPair(e.Symbol); !ok {
		c.errorf(e, "not a crypto pair")
		return
	}
	p := pairProfileFor(e.Symbol)
	if e.Seq != 0 || e.Flags != 0 || e.Time > now || e.Time < c.lastTime[e.Symbol] {
		c.errorf(e, "seq %d, flags %v, time %d after %d, batch clock %d", e.Seq, e.Flags, e.Time, c.lastTime[e.Symbol], now)
	}
	c.lastTime[e.Symbol] = e.Time
	b := c.books[e.Symbol]
	if b == nil && e.Kind != market.KindCryptoOrderbook {
		c.errorf(e, "before the book's snapshot")
		return
	}
	switch e.Kind {
	case market.KindCryptoOrderbook:
		o := e.Orderbook
		switch {
		case o == nil || len(o.Bids)+len(o.Asks) == 0:
			c.errorf(e, "empty update %+v", o)
			return
		case b == nil && !o.Reset:
			c.errorf(e, "first order book message is not a snapshot")
			return
		case b != nil && o.Reset:
			c.errorf(e, "a second snapshot")
		}
		if o.Reset {
			b = &[2]map[float64]float64{{}, {}}
			c.books[e.Symbol] = b
		}
		for i, levels := range [][]market.BookLevel{o.Bids, o.Asks} {
			for _, l := range levels {
				switch {
				case !onGrid(l.Price, p.pxDec) || !onGrid(l.Size, p.szDec) || l.Price <= 0 || l.Size < 0:
					c.errorf(e, "level %+v off the grid (%d and %d decimals)", l, p.pxDec, p.szDec)
				case l.Size > 0:
					b[i][l.Price] = l.Size
				case o.Reset:
					c.errorf(e, "a snapshot deletes %v", l.Price)
				default:
					if _, ok := b[i][l.Price]; !ok {
						c.errorf(e, "deletes %v, which the book does not hold", l.Price)
					}
					delete(b[i], l.Price)
				}
			}
		}
		bp, _, nb := best(b[0], true)
		ap, _, na := best(b[1], false)
		if nb != bookDepth || na != bookDepth || bp >= ap {
			c.errorf(e, "book of %d bids and %d asks, best %v/%v", nb, na, bp, ap)
		}
	case market.KindCryptoQuote:
		q := e.CryptoQuote
		bp, bs, _ := best(b[0], true)
		ap, as, _ := best(b[1], false)
		if q.BidPrice != bp || q.BidSize != bs || q.AskPrice != ap || q.AskSize != as {
			c.errorf(e, "quote %+v, book's top %v x %v / %v x %v", q, bp, bs, ap, as)
		}
		c.quotes[e.Symbol] = q
		mid := (q.BidPrice + q.AskPrice) / 2
		c.spreads[e.Symbol] = append(c.spreads[e.Symbol], 1e4*(q.AskPrice-q.BidPrice)/mid)
		c.mids[e.Symbol] = append(c.mids[e.Symbol], mid)
	case market.KindCryptoTrade:
		tr := e.CryptoTrade
		side := 0
		if tr.TakerSide == 'B' {
			side = 1
		}
		px, sz, _ := best(b[side], side == 0)
		switch {
		case tr.TakerSide != 'B' && tr.TakerSide != 'S':
			c.errorf(e, "taker side %q", tr.TakerSide)
		case tr.Price != px || tr.Size <= 0 || tr.Size > sz || !onGrid(tr.Size, p.szDec):
			c.errorf(e, "trade %+v against a best level of %v x %v", tr, px, sz)
		case tr.ID <= c.lastID[e.Symbol]:
			c.errorf(e, "trade ID %d after %d", tr.ID, c.lastID[e.Symbol])
		}
		if c.firstID[e.Symbol] == 0 {
			c.firstID[e.Symbol] = tr.ID
		}
		c.lastID[e.Symbol] = tr.ID
		c.takers[string(tr.TakerSide)]++
		c.trades[e.Symbol] = append(c.trades[e.Symbol], tr)
	default:
		c.errorf(e, "unexpected kind")
	}
}

func TestCrypto(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		length time.Duration
	}{
		{"with the stocks on a weekday", Options{Seed: 1, Rate: 2000, Start: summerDay.Add(11 * time.Hour),
			CryptoSymbols: DefaultCryptoSymbols}, 2 * time.Minute},
		{"alone on a Saturday night", Options{Seed: 2, Rate: 500, Start: saturday.Add(3 * time.Hour), Symbols: []string{},
			CryptoSymbols: []string{"BTC/USD", "ETH/BTC", "SHIB/USD", "PEPE/USDT", "USDC/USD", "DOGE/BTC"}}, 10 * time.Minute},
		{"small batches", Options{Seed: 3, Rate: 500, Start: summerDay.Add(11 * time.Hour), BatchSize: 1,
			Symbols: []string{"AAPL"}, CryptoSymbols: []string{"SOL/USD"}}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled {
				tt.opts.Rate /= 4
			}
			s := mustNew(t, tt.opts)
			c := newCryptoChecker(t)
			var stocks *checker
			if tt.opts.Symbols == nil || len(tt.opts.Symbols) > 0 {
				stocks = newChecker(t)
			}
			maxBatch := max(tt.opts.BatchSize, maxCryptoEvents)
			if tt.opts.BatchSize == 0 {
				maxBatch = defaultBatch
			}
			span(s, tt.opts.Start.Add(tt.length), func(events []market.Event, now int64) {
				if len(events) > maxBatch {
					t.Fatalf("a batch of %d events", len(events))
				}
				c.batch(stocks, events, now)
			})

			total := c.kinds[market.KindCryptoTrade] + c.kinds[market.KindCryptoQuote] + c.kinds[market.KindCryptoOrderbook]
			share := func(k market.Kind) float64 { return float64(c.kinds[k]) / float64(total) }
			t.Logf("%d crypto events: %.1f%% trades, %.1f%% quotes, %.1f%% order book updates; takers %v", total,
				100*share(market.KindCryptoTrade), 100*share(market.KindCryptoQuote), 100*share(market.KindCryptoOrderbook), c.takers)
			for k, want := range map[market.Kind]float64{
				market.KindCryptoTrade:     cryptoTradeShare / cryptoEventsPerArrival,
				market.KindCryptoQuote:     (cryptoTradeShare + cryptoMoveShare) / cryptoEventsPerArrival,
				market.KindCryptoOrderbook: 1 / cryptoEventsPerArrival,
			} {
				if got := share(k); math.Abs(got-want) > 0.03 {
					t.Errorf("%v: %.1f%% of the crypto events, want %.1f%%", k, 100*got, 100*want)
				}
			}
			if c.takers["B"] < c.takers["S"]/2 || c.takers["S"] < c.takers["B"]/2 {
				t.Errorf("taker sides %v", c.takers)
			}
			for _, sym := range tt.opts.CryptoSymbols {
				p := pairProfileFor(sym)
				sp := slices.Clone(c.spreads[sym])
				slices.Sort(sp)
				mids := c.mids[sym]
				if len(sp) == 0 || len(c.trades[sym]) == 0 {
					t.Errorf("%s: %d quotes, %d trades", sym, len(sp), len(c.trades[sym]))
					continue
				}
				med := sp[len(sp)/2]
				t.Logf("%-9s %d trades, mid %.8g (profile %.8g), median spread %.2f bps (profile %.1f), first trade %v",
					sym, len(c.trades[sym]), mids[len(mids)-1], p.price, med, p.spread, c.trades[sym][0])
				// Prices at the profile's level, spreads of its order in
				// basis points (wider in quiet hours).
				if r := mids[len(mids)-1] / p.price; r < 0.8 || r > 1.25 {
					t.Errorf("%s: mid %v, profile price %v", sym, mids[len(mids)-1], p.price)
				}
				if med < 0.5*p.spread || med > 3*p.spread {
					t.Errorf("%s: median spread %.2f bps, profile %.1f", sym, med, p.spread)
				}
			}
		})
	}
}

// TestCryptoPrices pins the order of magnitude of the built-in pairs'
// prices and checks that sizes are fractional where coins are dear.
func TestCryptoPrices(t *testing.T) {
	tests := []struct {
		sym       string
		lo, hi    float64 // late-2026 order of magnitude, USD
		fractions bool    // trades of a fraction of a coin
	}{
		{"BTC/USD", 30_000, 300_000, true},
		{"ETH/USD", 1_000, 10_000, true},
		{"SOL/USD", 50, 1_000, true},
		{"DOGE/USD", 0.05, 2, false},
		{"LTC/USD", 30, 500, true},
		{"AVAX/USD", 5, 200, true},
		{"LINK/USD", 5, 100, true},
		{"USDT/USD", 0.99, 1.01, false},
		{"ETH/BTC", 0.01, 0.1, true},
	}
	for _, tt := range tests {
		t.Run(tt.sym, func(t *testing.T) {
			p := pairProfileFor(tt.sym)
			if p.price < tt.lo || p.price > tt.hi {
				t.Errorf("price %v, want %v-%v", p.price, tt.lo, tt.hi)
			}
			s := mustNew(t, Options{Seed: 5, Rate: 200, Start: monday.Add(15 * time.Hour), Symbols: []string{}, CryptoSymbols: []string{tt.sym}})
			fractions := 0
			for _, e := range take(s, 2000) {
				if e.Kind == market.KindCryptoTrade && e.CryptoTrade.Size < 1 {
					fractions++
				}
			}
			if (fractions > 0) != tt.fractions {
				t.Errorf("%d trades of under one coin", fractions)
			}
		})
	}
}

// TestCryptoWeek runs the default stocks and pairs over a week at a low
// rate: the total follows Rate, crypto gets its weight's share, its
// activity follows the daily and weekly cycle, and a stablecoin holds its
// peg.
func TestCryptoWeek(t *testing.T) {
	rate := 2.0
	if raceEnabled {
		rate = 0.5
	}
	s := mustNew(t, Options{Seed: 7, Rate: rate, Start: monday, CryptoSymbols: DefaultCryptoSymbols})
	var stocks, crypto int
	var byHour [weekHours]int
	lo, hi := math.Inf(1), math.Inf(-1)
	span(s, monday.Add(7*24*time.Hour), func(events []market.Event, _ int64) {
		for _, e := range events {
			switch {
			case e.Kind == market.KindIEXQuote:
				continue // on top of Rate
			case e.Kind.Class() != market.ClassCrypto:
				stocks++
				continue
			}
			crypto++
			byHour[hourOfWeek(e.Time)]++
			if e.Kind == market.KindCryptoQuote && e.Symbol == "USDT/USD" {
				mid := (e.CryptoQuote.BidPrice + e.CryptoQuote.AskPrice) / 2
				lo, hi = min(lo, mid), max(hi, mid)
			}
		}
	})
	ws, wc := 0.0, 0.0
	for _, p := range profiles {
		ws += p.weight
	}
	for _, sym := range DefaultCryptoSymbols {
		wc += pairProfileFor(sym).weight
	}
	want := rate * 7 * 86400
	total := float64(stocks + crypto)
	share := float64(crypto) / total
	// Hour sums over the week's weekdays and weekend days.
	sum := func(days []int, hour int) int {
		n := 0
		for _, d := range days {
			n += byHour[d*24+hour]
		}
		return n
	}
	weekdays, weekend := []int{0, 1, 2, 3, 4}, []int{5, 6}
	perDay := func(days []int) float64 {
		n := 0
		for h := range 24 {
			n += sum(days, h)
		}
		return float64(n) / float64(len(days))
	}
	peak, trough := sum(weekdays, 15), sum(weekdays, 3)
	t.Logf("%d stock and %d crypto messages (%.1f%%, want %.1f%%); 15:00 UTC %d, 03:00 UTC %d on weekdays; weekend/weekday %.2f; USDT/USD %.5f-%.5f",
		stocks, crypto, 100*share, 100*wc/(ws+wc), peak, trough, perDay(weekend)/perDay(weekdays), lo, hi)
	if math.Abs(total/want-1) > 0.02 {
		t.Errorf("%.0f messages in a week, want %.0f", total, want)
	}
	if math.Abs(share-wc/(ws+wc)) > 0.015 {
		t.Errorf("crypto has %.1f%% of the messages, want %.1f%%", 100*share, 100*wc/(ws+wc))
	}
	if r := float64(peak) / float64(trough); r < 2.2 || r > 4 {
		t.Errorf("15:00 UTC has %.1fx the messages of 03:00, want about 3", r)
	}
	if r := perDay(weekend) / perDay(weekdays); r < 0.5 || r > 0.7 {
		t.Errorf("a weekend day has %.2fx the messages of a weekday, want about 0.6", r)
	}
	if lo < 0.995 || hi > 1.005 {
		t.Errorf("USDT/USD between %v and %v: off its peg", lo, hi)
	}
}

func TestCryptoDeterminism(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}
	base := Options{Seed: 42, Rate: 50_000, Start: saturday.Add(12 * time.Hour), Symbols: []string{"SPY", "AAPL"},
		CryptoSymbols: DefaultCryptoSymbols}
	want := take(mustNew(t, base), n)[:n]
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	tests := []struct {
		name string
		opts Options
		same bool
	}{
		{"same seed and start", base, true},
		{"batching does not matter", with(func(o *Options) { o.BatchSize = 7 }), true},
		{"nor the smallest batches", with(func(o *Options) { o.BatchSize = 1 }), true},
		{"other seed", with(func(o *Options) { o.Seed = 43 }), false},
		{"other pairs", with(func(o *Options) { o.CryptoSymbols = DefaultCryptoSymbols[:4] }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := take(mustNew(t, tt.opts), n)[:n]
			if eq := reflect.DeepEqual(got, want); eq != tt.same {
				t.Fatalf("sequences equal = %v, want %v", eq, tt.same)
			}
		})
	}
}

// TestCryptoResume restarts the pairs from the end of a run, as TestResume
// does for stocks: IDs continue right above the record's, and the first
// new quote continues the last one.
func TestCryptoResume(t *testing.T) {
	start := monday.Add(14 * time.Hour)
	opts := Options{Seed: 1, Rate: 1000, Start: start, Symbols: []string{}, CryptoSymbols: DefaultCryptoSymbols}
	if raceEnabled {
		opts.Rate = 300
	}
	first := newCryptoChecker(t)
	span(mustNew(t, opts), start.Add(10*time.Minute), func(events []market.Event, now int64) { first.batch(nil, events, now) })

	state := map[string]SymbolState{}
	for _, sym := range DefaultCryptoSymbols {
		tr, q := first.trades[sym], first.quotes[sym]
		state[sym] = SymbolState{LastTradeID: tr[len(tr)-1].ID, LastPrice: tr[len(tr)-1].Price,
			LastTime: first.lastTime[sym], BidPrice: q.BidPrice, AskPrice: q.AskPrice}
	}
	run := func(resume map[string]SymbolState) *cryptoChecker {
		o := opts
		o.Start, o.Resume = start.Add(10*time.Minute+3*time.Second), resume
		c := newCryptoChecker(t)
		for sym, st := range resume {
			c.lastID[sym] = st.LastTradeID
		}
		span(mustNew(t, o), o.Start.Add(time.Minute), func(events []market.Event, now int64) { c.batch(nil, events, now) })
		return c
	}
	second, fresh := run(state), run(nil)
	jumps := 0
	for _, sym := range DefaultCryptoSymbols {
		if got, want := second.firstID[sym], state[sym].LastTradeID+1; got != want {
			t.Errorf("%s: first ID after the restart %d, want %d", sym, got, want)
		}
		mids := first.mids[sym]
		bound := moveBound(mids)
		// The snapshot redraws the spread, so the midpoint may move by
		// half of one as well as by a normal move.
		q := first.quotes[sym]
		bound += (q.AskPrice - q.BidPrice) / (q.AskPrice + q.BidPrice)
		if j := math.Abs(math.Log(second.mids[sym][0] / mids[len(mids)-1])); j > bound {
			t.Errorf("%s: mid %v -> %v after the restart, bound %.4f%%", sym, mids[len(mids)-1], second.mids[sym][0], 100*bound)
		}
		if j := math.Abs(math.Log(fresh.mids[sym][0] / mids[len(mids)-1])); j > bound {
			jumps++
		}
	}
	if jumps < len(DefaultCryptoSymbols)/2 {
		t.Errorf("a fresh start jumps for %d pairs only: the bound is too loose", jumps)
	}
}
