package sim

import (
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

// at returns a New York wall-clock time.
func at(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, newYork)
}

// A Wednesday in daylight time and one in standard time.
var (
	summerDay = at(2025, time.July, 16, 0, 0)
	winterDay = at(2025, time.January, 15, 0, 0)
)

func mustNew(t testing.TB, o Options) *Sim {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// take generates at least n events.
func take(s *Sim, n int) []market.Event {
	var out []market.Event
	for len(out) < n {
		out, _ = s.Next(out)
	}
	return out
}

// span runs s until its clock reaches end, handing every batch to fn.
func span(s *Sim, end time.Time, fn func(events []market.Event, now int64)) {
	var buf []market.Event
	for {
		var now int64
		buf, now = s.Next(buf[:0])
		fn(buf, now)
		if now >= end.UnixNano() {
			return
		}
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string // substring of the error; "" = no error
	}{
		{"zero value", Options{}, ""},
		{"subset", Options{Symbols: []string{"SPY", "FAKEPACA"}}, ""},
		{"infinite speed", Options{Speed: math.Inf(1)}, ""},
		{"tiny rate", Options{Rate: 0.01}, ""},
		{"symbols without a profile", Options{Symbols: []string{"AAPL", "ROKU", "SOFI", "BRK.B"}}, ""},
		{"lower case", Options{Symbols: []string{"aapl"}}, `invalid symbol "aapl"`},
		{"empty symbol", Options{Symbols: []string{"AAPL", ""}}, `invalid symbol ""`},
		{"junk symbol", Options{Symbols: []string{"AAPL", "BRK..B"}}, `invalid symbol "BRK..B"`},
		{"duplicate", Options{Symbols: []string{"KO", "KO"}}, `duplicate symbol "KO"`},
		{"duplicate derived", Options{Symbols: []string{"ROKU", "AAPL", "ROKU"}}, `duplicate symbol "ROKU"`},
		{"no symbols", Options{Symbols: []string{}}, "no symbols"},
		{"negative rate", Options{Rate: -1}, "Rate"},
		{"NaN rate", Options{Rate: math.NaN()}, "Rate"},
		{"infinite rate", Options{Rate: math.Inf(1)}, "Rate"},
		{"negative speed", Options{Speed: -2}, "Speed"},
		{"NaN speed", Options{Speed: math.NaN()}, "Speed"},
		{"negative batch", Options{BatchSize: -1}, "BatchSize"},
		{"ancient start", Options{Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "Start"},
		{"resume", Options{Start: summerDay, Resume: map[string]SymbolState{"AAPL": {LastTradeID: 7, LastPrice: 1.5,
			LastTime: summerDay.UnixNano(), BidPrice: 1.5, AskPrice: 1.51, BidSize: 1, AskSize: 2}, "ZZZZ": {LastPrice: math.NaN()}}}, ""},
		{"crypto only", Options{Symbols: []string{}, CryptoSymbols: []string{"BTC/USD", "ETH/BTC", "NEWCOIN/USDC"}}, ""},
		{"crypto and stocks", Options{CryptoSymbols: DefaultCryptoSymbols, BatchSize: 1}, ""},
		{"crypto lower case", Options{CryptoSymbols: []string{"btc/usd"}}, `invalid crypto pair "btc/usd" (did you mean "BTC/USD"?)`},
		{"crypto quote currency", Options{CryptoSymbols: []string{"BTC/EUR"}}, `invalid crypto pair "BTC/EUR"`},
		{"crypto against itself", Options{CryptoSymbols: []string{"BTC/BTC"}}, `invalid crypto pair "BTC/BTC"`},
		{"crypto with a dash", Options{CryptoSymbols: []string{"BTC-USD"}}, `invalid crypto pair "BTC-USD"`},
		{"crypto as a stock", Options{Symbols: []string{"BTC/USD"}}, `invalid symbol "BTC/USD"`},
		{"crypto duplicate", Options{CryptoSymbols: []string{"ETH/USD", "BTC/USD", "ETH/USD"}}, `duplicate symbol "ETH/USD"`},
		{"crypto resume", Options{CryptoSymbols: []string{"BTC/USD"}, Resume: map[string]SymbolState{"BTC/USD": {AskPrice: -3}}}, "BTC/USD: invalid price -3"},
		{"resume NaN price", Options{Resume: map[string]SymbolState{"KO": {LastPrice: math.NaN()}}}, "invalid price NaN"},
		{"resume negative quote", Options{Resume: map[string]SymbolState{"KO": {BidPrice: -1}}}, "invalid price -1"},
		{"resume infinite price", Options{Resume: map[string]SymbolState{"KO": {AskPrice: math.Inf(1)}}}, "invalid price +Inf"},
		{"resume negative ID", Options{Resume: map[string]SymbolState{"KO": {LastTradeID: -1}}}, "negative trade ID"},
		{"resume after start", Options{Start: summerDay, Resume: map[string]SymbolState{"KO": {LastTime: summerDay.Add(time.Nanosecond).UnixNano()}}},
			"is after Start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("New: got error %v, want one containing %q", err, tt.err)
			case tt.err == "" && (s.batch < 1 || len(tt.opts.CryptoSymbols) > 0 && s.batch < maxCryptoEvents || s.speed <= 0 ||
				len(s.syms)+len(s.pairs) == 0):
				t.Fatalf("defaults not applied: batch %d speed %v symbols %d pairs %d", s.batch, s.speed, len(s.syms), len(s.pairs))
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	n := 200_000
	if testing.Short() || raceEnabled {
		n = 50_000
	}
	base := Options{Seed: 42, Rate: 50_000, Start: summerDay.Add(9*time.Hour + 29*time.Minute)}
	want := take(mustNew(t, base), n)[:n]

	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	tests := []struct {
		name string
		opts Options
		same bool
	}{
		{"same seed and start", base, true},
		{"batching does not matter", with(func(o *Options) { o.BatchSize = 7 }), true},
		{"pacing options do not matter", with(func(o *Options) { o.Speed = 1000 }), true},
		{"other seed", with(func(o *Options) { o.Seed = 43 }), false},
		{"other start", with(func(o *Options) { o.Start = o.Start.Add(time.Hour) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := take(mustNew(t, tt.opts), n)[:n]
			// DeepEqual follows the pointer payloads (statuses, bands, ...).
			if eq := reflect.DeepEqual(got, want); eq != tt.same {
				i := 0
				for i < n && reflect.DeepEqual(got[i], want[i]) {
					i++
				}
				t.Fatalf("sequences equal = %v, want %v (first difference at event %d)", eq, tt.same, i)
			}
		})
	}
}

// checker verifies the stream-level invariants of the simulated market,
// independently of how the generator computes them.
type checker struct {
	t        *testing.T
	profiles map[string]profile
	quotes   map[string]market.Quote
	iex      map[string]market.Quote      // IEX's own quotes
	quoted   string                       // the symbol of the event before if it was an NBBO quote
	history  map[string][]quoteAt         // each symbol's recent quotes, for late reports
	late     int                          // late reports checked against their own time's quote
	session  func(int64) phase            // the phase at a time: sessionAt unless a test sets Sessions (all-day symbols aside)
	trades   map[string]map[int64]printed // every trade ID ever valid, per symbol
	lastID   map[string]int64
	kinds    map[market.Kind]int
	conds    map[string]int
	symbols  map[string]int
	lastTime int64
	prevNow  int64
	batches  int
	failures int
}

func newChecker(t *testing.T) *checker {
	return &checker{t: t, profiles: map[string]profile{}, quotes: map[string]market.Quote{}, iex: map[string]market.Quote{},
		history: map[string][]quoteAt{},
		trades:  map[string]map[int64]printed{},
		session: sessionAt, lastID: map[string]int64{}, kinds: map[market.Kind]int{}, conds: map[string]int{}, symbols: map[string]int{}}
}

func (c *checker) errorf(e *market.Event, format string, args ...any) {
	c.t.Helper()
	if c.failures++; c.failures <= 10 {
		c.t.Errorf("%s %s %v: "+format, append([]any{e.Timestamp().Format(time.RFC3339Nano), e.Symbol, e.Kind}, args...)...)
	}
}

func onTick(p float64) bool { return p > 0 && math.Abs(p*100-math.Round(p*100)) < 1e-6 }

// sessionAt classifies t with the time package alone.
func sessionAt(t int64) phase {
	lt := time.Unix(0, t).In(newYork)
	switch m := lt.Hour()*60 + lt.Minute(); {
	case m >= 9*60+30 && m < 16*60:
		return regular
	case m >= 4*60 && m < 9*60+30:
		return premarket
	case m >= 16*60 && m < 20*60:
		return postmarket
	}
	return overnight
}

// batch and event are deliberately not t.Helper: Helper costs more than
// the checks (it dominated these tests under the race detector), and a
// failure reported at the check that failed is more useful anyway.
func (c *checker) batch(events []market.Event, now int64) {
	if c.batches > 0 && now < c.prevNow {
		c.t.Errorf("clock went back from %d to %d", c.prevNow, now)
	}
	for i := range events {
		c.event(&events[i], now)
	}
	if c.quoted != "" && len(events) > 0 {
		// IEX's quote, if the NBBO quote moved its book, comes in the
		// same batch.
		c.standingIEX(&events[len(events)-1], c.quoted)
		c.quoted = ""
	}
	c.prevNow = now
	c.batches++
}

func (c *checker) event(e *market.Event, now int64) {
	if c.quoted != "" {
		// IEX's quote follows the NBBO quote that moved its book, at
		// once; any other event means the book stood.
		if e.Kind != market.KindIEXQuote || e.Symbol != c.quoted {
			c.standingIEX(e, c.quoted)
		}
		c.quoted = ""
	}
	c.kinds[e.Kind]++
	c.symbols[e.Symbol]++
	p, ok := c.profiles[e.Symbol]
	if !ok {
		if !validSymbol(e.Symbol) {
			c.errorf(e, "invalid symbol")
			return
		}
		p = profileFor(e.Symbol)
		c.profiles[e.Symbol] = p
	}
	if e.Seq != 0 || e.Time == 0 || e.Time > now {
		c.errorf(e, "seq %d, time %d, batch clock %d", e.Seq, e.Time, now)
	}
	late := e.Kind == market.KindTrade && (e.Trade.Conditions.Has('Z') || e.Trade.Conditions.Has('U'))
	switch {
	case late:
		if e.Time > now-1e9 || e.Time < c.prevNow-9e9 {
			c.errorf(e, "late report %v outside (clock-9s, clock-1s]", time.Duration(now-e.Time))
		}
	case e.Time < c.lastTime:
		c.errorf(e, "time went back by %v", time.Duration(c.lastTime-e.Time))
	default:
		c.lastTime = e.Time
	}

	switch e.Kind {
	case market.KindQuote:
		q := e.Quote
		if !(q.BidPrice < q.AskPrice) || !onTick(q.BidPrice) || !onTick(q.AskPrice) {
			c.errorf(e, "bad prices %v/%v", q.BidPrice, q.AskPrice)
		}
		if q.BidSize == 0 || q.AskSize == 0 || q.Tape != p.tape || q.Conditions != (market.Conditions{'R'}) ||
			!isVenue(quoteVenues, q.BidExchange) || !isVenue(quoteVenues, q.AskExchange) {
			c.errorf(e, "bad quote %+v", q)
		}
		c.quotes[e.Symbol] = q
		c.quoted = e.Symbol
		c.keep(e)
	case market.KindIEXQuote:
		q := e.Quote
		if !(q.BidPrice < q.AskPrice) || !onTick(q.BidPrice) || !onTick(q.AskPrice) {
			c.errorf(e, "bad IEX prices %v/%v", q.BidPrice, q.AskPrice)
		}
		if q.BidSize == 0 || q.AskSize == 0 || q.Tape != p.tape || q.Conditions != (market.Conditions{'R'}) ||
			q.BidExchange != market.IEXExchange || q.AskExchange != market.IEXExchange {
			c.errorf(e, "bad IEX quote %+v", q)
		}
		if prev, ok := c.iex[e.Symbol]; ok && prev == q {
			c.errorf(e, "IEX quote %+v repeats the last one", q)
		}
		c.iex[e.Symbol] = q
		c.standingIEX(e, e.Symbol)
	case market.KindTrade:
		tr := e.Trade
		q, ok := c.quotes[e.Symbol]
		if late {
			// A late report is priced at the market of its own time.
			q, ok = c.prevailing(e.Symbol, e.Time)
			c.late++
		}
		if !ok || tr.Price < q.BidPrice || tr.Price > q.AskPrice || !onTick(tr.Price) {
			c.errorf(e, "price %v outside quote %v/%v (late %v)", tr.Price, q.BidPrice, q.AskPrice, late)
		}
		if tr.ID <= c.lastID[e.Symbol] {
			c.errorf(e, "trade ID %d after %d", tr.ID, c.lastID[e.Symbol])
		}
		c.lastID[e.Symbol] = tr.ID
		if tr.Size == 0 || (tr.Size < 100) != tr.Conditions.Has('I') {
			c.errorf(e, "size %d with conditions %v", tr.Size, tr.Conditions)
		}
		if tr.Tape != p.tape || !isVenue(tradeVenues, tr.Exchange) || tr.Conditions[0] != '@' {
			c.errorf(e, "bad trade %+v", tr)
		}
		ext := !p.allDay && c.session(e.Time) != regular
		cross := tr.Conditions.Has('O') || tr.Conditions.Has('6') || tr.Conditions.Has('5')
		if !late && !cross && ext != tr.Conditions.Has('T') {
			c.errorf(e, "extended hours %v but conditions %v", ext, tr.Conditions)
		}
		for i := 0; i < tr.Conditions.Len(); i++ {
			c.conds[string(tr.Conditions[i])]++
		}
		c.remember(e.Symbol, printed{tr.ID, int64(math.Round(tr.Price * 100)), tr.Size, tr.Exchange, tr.Conditions})
	case market.KindCorrection:
		x := e.Correction
		c.referTo(e, x.OrigID, x.OrigPrice, x.OrigSize, x.Exchange)
		if x.CorrID <= x.OrigID || x.OrigConds != x.CorrConds || x.Tape != p.tape {
			c.errorf(e, "bad correction %+v", *x)
		}
		c.remember(e.Symbol, printed{x.CorrID, int64(math.Round(x.CorrPrice * 100)), x.CorrSize, x.Exchange, x.CorrConds})
	case market.KindCancelError:
		x := e.CancelError
		c.referTo(e, x.ID, x.Price, x.Size, x.Exchange)
		if (x.Action != 'C' && x.Action != 'E') || x.Tape != p.tape {
			c.errorf(e, "bad cancel %+v", *x)
		}
	case market.KindStatus:
		if e.Status == nil || e.Status.Tape != p.tape || e.Status.StatusCode == "" {
			c.errorf(e, "bad status %+v", e.Status)
		}
	case market.KindLULD:
		l := e.LULD
		if l == nil || !(l.LimitDown < l.LimitUp) || !onTick(l.LimitUp) || !onTick(l.LimitDown) || l.Tape != p.tape {
			c.errorf(e, "bad band %+v", l)
		}
	case market.KindImbalance:
		if e.Imbalance == nil || e.Imbalance.Price <= 0 {
			c.errorf(e, "bad imbalance %+v", e.Imbalance)
		}
	default:
		c.errorf(e, "unexpected kind")
	}
}

// standingIEX checks IEX's standing quote of sym against the NBBO, at e:
// never better on either side, and the NBBO's own on a side the NBBO says
// IEX posts.
func (c *checker) standingIEX(e *market.Event, sym string) {
	q, ok := c.iex[sym]
	if !ok {
		return
	}
	n, ok := c.quotes[sym]
	switch {
	case !ok:
		c.errorf(e, "IEX quote of %s before any NBBO", sym)
	case q.BidPrice > n.BidPrice || q.AskPrice < n.AskPrice:
		c.errorf(e, "IEX's %v/%v better than the NBBO %v/%v of %s", q.BidPrice, q.AskPrice, n.BidPrice, n.AskPrice, sym)
	case n.BidExchange == market.IEXExchange && (q.BidPrice != n.BidPrice || q.BidSize != n.BidSize),
		n.AskExchange == market.IEXExchange && (q.AskPrice != n.AskPrice || q.AskSize != n.AskSize):
		c.errorf(e, "the NBBO %+v of %s names IEX, whose quote is %+v", n, sym, q)
	}
}

// quoteAt is a quote and its time.
type quoteAt struct {
	t int64
	q market.Quote
}

// keep adds a quote to its symbol's history, which it trims to the last
// 20 s or so (late reports are at most 9 s late).
func (c *checker) keep(e *market.Event) {
	h := append(c.history[e.Symbol], quoteAt{e.Time, e.Quote})
	if len(h) > 1024 && h[len(h)/2].t < e.Time-20e9 {
		h = append(h[:0], h[len(h)/2:]...)
	}
	c.history[e.Symbol] = h
}

// prevailing returns the quote of sym in force at t: the last one at or
// before it.
func (c *checker) prevailing(sym string, t int64) (market.Quote, bool) {
	h := c.history[sym]
	i := sort.Search(len(h), func(i int) bool { return h[i].t > t })
	if i == 0 {
		return market.Quote{}, false
	}
	return h[i-1].q, true
}

func (c *checker) remember(sym string, p printed) {
	if c.trades[sym] == nil {
		c.trades[sym] = map[int64]printed{}
	}
	c.trades[sym][p.id] = p
}

// referTo checks that a correction or cancel names a trade that was printed
// (or corrected) earlier, with its values.
func (c *checker) referTo(e *market.Event, id int64, price float64, size uint32, exch byte) {
	c.t.Helper()
	p, ok := c.trades[e.Symbol][id]
	if !ok || p.price != int64(math.Round(price*100)) || p.size != size || p.exch != exch {
		c.errorf(e, "refers to trade %d (%v x %d on %c), known as %+v (found %v)", id, price, size, exch, p, ok)
	}
}

func isVenue(vs []venue, code byte) bool {
	for _, v := range vs {
		if v.code == code {
			return true
		}
	}
	return false
}

func TestInvariants(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		until time.Time
		conds string // trade conditions that must appear
		long  bool   // skipped with -short: the whole day covers every phase
	}{
		// The rates are quartered under the race detector.
		// About a million events over a whole day: night, pre-market,
		// open, close and after-hours.
		{"whole day", Options{Seed: 1, Rate: 12, Start: summerDay}, summerDay.Add(24 * time.Hour), "@FIOT6Z", false},
		// A million events across the opening cross at a high rate.
		{"open at 500k/s", Options{Seed: 2, Rate: 500_000, Start: summerDay.Add(9*time.Hour + 29*time.Minute + 59*time.Second)},
			summerDay.Add(9*time.Hour + 30*time.Minute + 150*time.Millisecond), "@FIOT", true},
		// Across the closing cross, in standard time.
		{"winter close", Options{Seed: 3, Rate: 100, Start: winterDay.Add(15*time.Hour + 45*time.Minute)},
			winterDay.Add(17 * time.Hour), "@FIT6", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.long && testing.Short() {
				t.Skip("long")
			}
			if raceEnabled {
				tt.opts.Rate /= 4
			}
			s := mustNew(t, tt.opts)
			c := newChecker(t)
			span(s, tt.until, c.batch)
			total := 0 // the consolidated events: IEX's quotes come on top
			for k, n := range c.kinds {
				if k != market.KindIEXQuote {
					total += n
				}
			}
			t.Logf("%d events: %v; trade conditions %v", total, c.kinds, c.conds)
			for _, sym := range DefaultSymbols {
				if c.symbols[sym] == 0 || c.lastID[sym] == 0 {
					t.Errorf("%s: %d events, no trades = %v", sym, c.symbols[sym], c.lastID[sym] == 0)
				}
			}
			for _, k := range []market.Kind{market.KindStatus, market.KindLULD} {
				if c.kinds[k] < len(DefaultSymbols) {
					t.Errorf("%d %v events, want one per symbol at least", c.kinds[k], k)
				}
			}
			q, tr := float64(c.kinds[market.KindQuote])/float64(total), float64(c.kinds[market.KindTrade])/float64(total)
			if q < 0.70 || q > 0.82 || tr < 0.18 || tr > 0.28 {
				t.Errorf("quotes %.1f%%, trades %.1f%%; want about 76%% and 23%%", 100*q, 100*tr)
			}
			if iex := float64(c.kinds[market.KindIEXQuote]) / float64(c.kinds[market.KindQuote]); iex < 0.05 || iex > 1 {
				t.Errorf("%d IEX quotes for %d NBBO quotes, want 5-100%%", c.kinds[market.KindIEXQuote], c.kinds[market.KindQuote])
			}
			for _, code := range strings.Split(tt.conds, "") {
				if c.conds[code] == 0 {
					t.Errorf("no trade with condition %q", code)
				}
			}
		})
	}
}

// TestTradeCorrections drives many trades through a single symbol so that
// the rare corrections and cancels show up, and checks them.
func TestTradeCorrections(t *testing.T) {
	if testing.Short() {
		t.Skip("2M events")
	}
	trades := 500_000
	if raceEnabled {
		trades = 200_000
	}
	s := mustNew(t, Options{Seed: 5, Rate: 200_000, Symbols: []string{"AAPL"}, Start: summerDay.Add(11 * time.Hour)})
	c := newChecker(t)
	for c.kinds[market.KindTrade] < trades {
		c.batch(s.Next(nil))
	}
	// 1 per 20,000 and 1 per 10,000 trades: about 25 and 50 in 500k.
	tests := []struct {
		kind     market.Kind
		rate     float64
		min, max float64 // multiples of the expected count
	}{
		{market.KindCorrection, correctRate, 0.32, 2},
		{market.KindCancelError, cancelRate, 0.4, 1.8},
	}
	for _, tt := range tests {
		want := float64(trades) * tt.rate
		if n := float64(c.kinds[tt.kind]); n < tt.min*want || n > tt.max*want {
			t.Errorf("%v %v events in %d trades, want about %v", n, tt.kind, trades, want)
		}
	}
}

func TestHalt(t *testing.T) {
	tests := []struct {
		sym                      string
		halt, haltReason, resume string
		wantTape                 byte
	}{
		{"AAPL", "H", "LUDP", "T", 'C'}, // UTP
		{"JPM", "2", "M", "3", 'A'},     // CTA
		{"SPY", "2", "M", "3", 'B'},
	}
	for _, tt := range tests {
		t.Run(tt.sym, func(t *testing.T) {
			s := mustNew(t, Options{Seed: 9, Rate: 200, Symbols: []string{tt.sym}, Start: summerDay.Add(11 * time.Hour)})
			c := newChecker(t)
			span(s, summerDay.Add(11*time.Hour+time.Minute), c.batch)
			s.syms[0].spike = 0.15 // a flash spike far through the 5% band

			var halted, resumed int64
			var reopen, band bool
			imbalances := 0
			span(s, summerDay.Add(11*time.Hour+10*time.Minute), func(events []market.Event, now int64) {
				c.batch(events, now)
				for _, e := range events {
					switch {
					case e.Kind == market.KindStatus && e.Status.StatusCode == tt.halt:
						if e.Status.ReasonCode != tt.haltReason || e.Status.Tape != tt.wantTape {
							t.Errorf("halt status %+v", *e.Status)
						}
						halted = e.Time
					case e.Kind == market.KindStatus && e.Status.StatusCode == tt.resume:
						resumed = e.Time
					case halted == 0:
					case resumed == 0 && e.Kind == market.KindImbalance:
						imbalances++
					case resumed == 0:
						t.Errorf("%v event while halted", e.Kind)
					case e.Kind == market.KindTrade && e.Trade.Conditions.Has('5'):
						reopen = true
					case e.Kind == market.KindLULD:
						// The new band must contain the price after the pause.
						q := c.quotes[tt.sym]
						if mid := (q.BidPrice + q.AskPrice) / 2; mid < e.LULD.LimitDown || mid > e.LULD.LimitUp {
							t.Errorf("band %+v after the pause excludes the price %v", *e.LULD, mid)
						}
						band = true
					}
				}
			})
			if halted == 0 || resumed-halted < haltNs || !reopen || !band || imbalances == 0 {
				t.Fatalf("halt at %d, resume %v later, reopening print %v, new band %v, %d imbalances",
					halted, time.Duration(resumed-halted), reopen, band, imbalances)
			}
		})
	}
}

func TestIntradayCurve(t *testing.T) {
	sum, v2 := 0.0, 0.0
	for m := range dayMinutes {
		if curve.shape[m] <= 0 || curve.vol[m] <= 0 || curve.spread[m] <= 0 {
			t.Fatalf("minute %d: shape %v vol %v spread %v", m, curve.shape[m], curve.vol[m], curve.spread[m])
		}
		sum += curve.shape[m]
		v2 += curve.vol[m] * curve.vol[m]
	}
	if mean := sum / dayMinutes; math.Abs(mean-1) > 1e-9 {
		t.Errorf("mean activity %v, want 1", mean)
	}
	if want := diffusionShare * 390; math.Abs(v2-want) > 1e-6 {
		t.Errorf("daily variance %v session-minutes, want %v", v2, want)
	}
	shape := func(h, m int) float64 { return curve.shape[h*60+m] }
	if !(shape(9, 30) > 2*shape(12, 30) && shape(15, 59) > 2*shape(12, 30) && shape(12, 30) > 3*shape(8, 0) && shape(8, 0) > shape(2, 0)) {
		t.Errorf("not a U-shaped session over quiet extended hours: 02:00 %.2f 08:00 %.2f 09:30 %.2f 12:30 %.2f 15:59 %.2f",
			shape(2, 0), shape(8, 0), shape(9, 30), shape(12, 30), shape(15, 59))
	}
}

// TestNYClock compares the cached wall-clock mapping with the time package,
// across both DST transitions, in order and jumping about.
func TestNYClock(t *testing.T) {
	var c nyClock
	for _, day := range []time.Time{at(2025, time.March, 8, 0, 0), at(2025, time.November, 1, 0, 0), winterDay} {
		var ts []int64
		for d := time.Duration(0); d < 72*time.Hour; d += 7*time.Minute + 13*time.Second + 17 {
			ts = append(ts, day.Add(d).UnixNano())
		}
		for i := 0; i < len(ts); i += 37 { // out of order
			ts = append(ts, ts[len(ts)-1-i])
		}
		for _, ns := range ts {
			lt := time.Unix(0, ns).In(newYork)
			want := int64(lt.Hour()*3600+lt.Minute()*60+lt.Second())*1e9 + int64(lt.Nanosecond())
			if got := c.tod(ns); got != want {
				t.Fatalf("%v: time of day %v, want %v", lt, time.Duration(got), time.Duration(want))
			}
		}
	}
}

// consolidated counts the events that are not IEX's own quotes: those Rate
// counts.
func consolidated(events []market.Event) int {
	n := 0
	for i := range events {
		if events[i].Kind != market.KindIEXQuote {
			n++
		}
	}
	return n
}

// expected integrates the model's intensity over [from, to): the calendar
// stocks' curve and the all-day stocks' constant.
func expected(s *Sim, from, to int64) float64 {
	sum := float64(to-from) * s.allDayRate
	for t := from; t < to; {
		tod := s.ny.tod(t)
		end := min(t+minuteNs-tod%minuteNs, s.ny.hi, to)
		sum += float64(end-t) * s.ny.day.rate[tod/minuteNs]
		t = end
	}
	return sum
}

func TestRate(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		start time.Time
		dur   time.Duration
	}{
		// Over a whole day the average is Rate itself.
		{"5/s over a day", 5, winterDay, 24 * time.Hour},
		{"5/s over a DST day", 5, at(2025, time.March, 9, 0, 0), 23 * time.Hour},
		// At high rates a short stretch: the model's own curve there. The
		// race detector gets a quarter of the rate.
		{"500k/s at midday", 500_000, summerDay.Add(12 * time.Hour), 2 * time.Second},
		{"500k/s across the open", 500_000, summerDay.Add(9*time.Hour + 29*time.Minute + 59*time.Second), 1200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled && tt.rate > 1000 {
				tt.rate /= 4
			}
			s := mustNew(t, Options{Seed: 11, Rate: tt.rate, Start: tt.start})
			end := tt.start.Add(tt.dur)
			n := -3 * len(s.syms) // the start-up snapshot is not part of the flow
			span(s, end, func(events []market.Event, _ int64) { n += consolidated(events) })
			want := expected(s, tt.start.UnixNano(), end.UnixNano())
			if tt.dur == 24*time.Hour {
				if avg := want / tt.dur.Seconds(); math.Abs(avg/tt.rate-1) > 0.01 {
					t.Errorf("the curve averages %.3f/s over the day, want %v", avg, tt.rate)
				}
			}
			t.Logf("%d messages, %.0f expected, %.1f/s", n, want, float64(n)/tt.dur.Seconds())
			if math.Abs(float64(n)/want-1) > 0.05 {
				t.Errorf("%d messages, want %.0f ± 5%%", n, want)
			}
		})
	}
}

func TestIntradayShape(t *testing.T) {
	count := func(t *testing.T, start time.Time) int {
		s := mustNew(t, Options{Seed: 3, Rate: 50, Start: start})
		n := -3 * len(s.syms)
		span(s, start.Add(30*time.Minute), func(events []market.Event, _ int64) { n += consolidated(events) })
		return n
	}
	for _, day := range []time.Time{summerDay, winterDay} {
		t.Run(day.Format("Jan"), func(t *testing.T) {
			open := count(t, day.Add(9*time.Hour+30*time.Minute))
			lunch := count(t, day.Add(12*time.Hour+30*time.Minute))
			night := count(t, day.Add(2*time.Hour))
			t.Logf("09:30-10:00 %d, 12:30-13:00 %d, 02:00-02:30 %d messages", open, lunch, night)
			if open < 2*lunch || lunch < 5*night || night == 0 {
				t.Errorf("09:30-10:00 %d, 12:30-13:00 %d, 02:00-02:30 %d messages: want a busy open, a quiet lunch and a live night",
					open, lunch, night)
			}
		})
	}
}

// TestLateReports checks the late reports across the open: each is priced
// within the NBBO that prevailed at its own (earlier) time, which the
// checker reconstructs from the quote events, and the delays spread over
// the 1-9 s the model allows, with 'U' before 09:30 and 'Z' after (and
// always for FAKEPACA, which is always in a regular session).
func TestLateReports(t *testing.T) {
	rate := 1500.0
	if raceEnabled {
		rate = 250
	}
	start := winterDay.Add(9*time.Hour + 25*time.Minute)
	s := mustNew(t, Options{Seed: 8, Rate: rate, Start: start})
	c := newChecker(t)
	var delays []float64
	conds := map[string]int{}
	span(s, start.Add(10*time.Minute), func(events []market.Event, now int64) {
		c.batch(events, now)
		for _, e := range events {
			if e.Kind != market.KindTrade {
				continue
			}
			for _, code := range []byte{'Z', 'U'} {
				if e.Trade.Conditions.Has(code) {
					conds[string(code)]++
					delays = append(delays, time.Duration(now-e.Time).Seconds())
					if want := map[bool]byte{true: 'Z', false: 'U'}[sessionAt(e.Time) == regular || c.profiles[e.Symbol].allDay]; code != want {
						t.Errorf("late report at %v marked %c", e.Timestamp(), code)
					}
				}
			}
		}
	})
	want := rate * 600 * tradeShare * lateRate
	if float64(c.late) < want/2 || c.late != len(delays) || conds["Z"] == 0 || conds["U"] == 0 {
		t.Fatalf("%d late reports checked (%d seen: %v), want about %.0f of both kinds", c.late, len(delays), conds, want)
	}
	slices.Sort(delays)
	lo, med, hi := delays[0], delays[len(delays)/2], delays[len(delays)-1]
	t.Logf("%d late reports %v; delays %.2f-%.2f s, median %.2f s", len(delays), conds, lo, hi, med)
	if lo < 1 || hi > 9.1 || med < 3.5 || med > 6.5 {
		t.Errorf("late by %.2f-%.2f s, median %.2f: want 1-9 s, median about 5", lo, hi, med)
	}
}

// TestDailyVolume checks that the share volume is realistic for the number
// of messages: over a whole day, scaled to the default Rate, each built-in
// symbol's continuous volume (auctions aside: they are sized from the
// real daily volume directly) is within a small factor of its real
// consolidated volume, and odd lots are a realistic share of the prints.
// Before trade sizes were calibrated this was 3-25 times the real volume.
func TestDailyVolume(t *testing.T) {
	rate := 50.0
	if raceEnabled || testing.Short() {
		rate = 12
	}
	s := mustNew(t, Options{Seed: 6, Rate: rate, Start: winterDay})
	shares, trades, odd := map[string]float64{}, map[string]int{}, map[string]int{}
	span(s, winterDay.Add(24*time.Hour), func(events []market.Event, _ int64) {
		for _, e := range events {
			if c := e.Trade.Conditions; e.Kind != market.KindTrade || c.Has('O') || c.Has('6') || c.Has('5') {
				continue
			}
			shares[e.Symbol] += float64(e.Trade.Size)
			trades[e.Symbol]++
			if e.Trade.Size < 100 {
				odd[e.Symbol]++
			}
		}
	})
	for _, p := range profiles {
		if p.name == "FAKEPACA" {
			continue // a test symbol: its "real" volume is made up
		}
		daily := shares[p.name] * defaultRate / rate
		ratio := daily / (p.adv * 1e6)
		oddShare := float64(odd[p.name]) / float64(trades[p.name])
		t.Logf("%-5s $%3.0f: %5.1fM shares a day at the default Rate (%.2fx real), mean trade %3.0f, odd lots %2.0f%%",
			p.name, p.price, daily/1e6, ratio, shares[p.name]/float64(trades[p.name]), 100*oddShare)
		if ratio < 0.5 || ratio > 5 || oddShare < 0.2 || oddShare > 0.85 {
			t.Errorf("%s: %.2fx its real volume, %.0f%% odd lots; want 0.5-5x and 20-85%%", p.name, ratio, 100*oddShare)
		}
	}
}

// TestSessions drives the session seam with a calendar: a weekday with an
// early close at 13:00 (the eve of Independence Day) and the holiday
// itself, closed. The auctions, bands and sale conditions must follow, for
// every symbol but FAKEPACA, which trades around the clock (TestAllDay).
func TestSessions(t *testing.T) {
	eve, holiday := at(2025, time.July, 3, 0, 0), at(2025, time.July, 4, 0, 0)
	sessions := func(day time.Time) (open, close time.Duration, ok bool) {
		switch {
		case day.Equal(eve):
			return 9*time.Hour + 30*time.Minute, 13 * time.Hour, true
		case day.Equal(holiday), day.Weekday() == time.Saturday, day.Weekday() == time.Sunday:
			return 0, 0, false
		}
		return 9*time.Hour + 30*time.Minute, 16 * time.Hour, true
	}
	phaseOf := func(t int64) phase {
		lt := time.Unix(0, t).In(newYork)
		m := lt.Hour()*60 + lt.Minute()
		day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, newYork)
		o, c, ok := sessions(day)
		open, close := int(o/time.Minute), int(c/time.Minute)
		switch {
		case !ok:
			return overnight
		case m >= open && m < close:
			return regular
		case m >= 4*60 && m < open:
			return premarket
		case m >= close && m < close+4*60:
			return postmarket
		}
		return overnight
	}

	rate := 40.0
	if raceEnabled {
		rate = 4
	}
	s := mustNew(t, Options{Seed: 12, Rate: rate, Start: eve, Sessions: sessions})
	c := newChecker(t)
	c.session = phaseOf
	crosses := map[byte][]time.Time{}
	var bands []time.Time
	count := func(from, to time.Time) func(int64) bool {
		return func(t int64) bool { return t >= from.UnixNano() && t < to.UnixNano() }
	}
	inEveNight, inHoliday := count(eve.Add(time.Hour), eve.Add(3*time.Hour)), count(holiday.Add(10*time.Hour), holiday.Add(12*time.Hour))
	night, closed := 0, 0
	span(s, holiday.Add(24*time.Hour), func(events []market.Event, now int64) {
		c.batch(events, now)
		for _, e := range events {
			switch {
			case e.Kind == market.KindLULD && e.Time > eve.UnixNano() && !c.profiles[e.Symbol].allDay:
				bands = append(bands, e.Timestamp())
			case e.Kind == market.KindTrade:
				for _, code := range []byte{'O', '6'} {
					if e.Trade.Conditions.Has(code) {
						crosses[code] = append(crosses[code], e.Timestamp())
					}
				}
			}
			if inEveNight(e.Time) {
				night++
			}
			if inHoliday(e.Time) {
				closed++
			}
		}
	})
	within := func(ts []time.Time, from, to time.Time) bool {
		for _, x := range ts {
			if x.Before(from) || !x.Before(to) {
				return false
			}
		}
		return len(ts) > 0
	}
	open := eve.Add(9*time.Hour + 30*time.Minute)
	n := 0
	for _, sym := range DefaultSymbols {
		if !profileFor(sym).allDay {
			n++
		}
	}
	if len(crosses['O']) != n || len(crosses['6']) != n {
		t.Errorf("%d opening and %d closing crosses over two days, want %d each (none on the holiday)", len(crosses['O']), len(crosses['6']), n)
	}
	if !within(crosses['O'], open, open.Add(15*time.Minute)) || !within(crosses['6'], eve.Add(13*time.Hour), eve.Add(13*time.Hour+15*time.Minute)) {
		t.Errorf("opening crosses at %v, closing at %v: want them after 09:30 and 13:00", crosses['O'], crosses['6'])
	}
	if !within(bands, open, eve.Add(13*time.Hour)) {
		t.Errorf("LULD bands outside the session 09:30-13:00: %v", bands)
	}
	// The holiday keeps the night's trickle: as busy as 01:00-03:00.
	t.Logf("01:00-03:00 on the eve %d messages, 10:00-12:00 on the holiday %d", night, closed)
	if closed == 0 || float64(closed) > 1.5*float64(night) || float64(closed) < float64(night)/1.5 {
		t.Errorf("%d messages on the holiday morning, %d at night: want the same trickle", closed, night)
	}
}

// TestAllDay checks that FAKEPACA trades around the clock as in a regular
// session, as on Alpaca's test stream, while AAPL follows the exchange's
// calendar. On a Saturday AAPL keeps the closed day's trickle of form-T
// prints, without bands; FAKEPACA trades at the pace, with the spreads
// and the conditions of a weekday session, and its LULD band stays in
// force. On the weekday it has no opening or closing cross.
func TestAllDay(t *testing.T) {
	type stats struct {
		trades, extended, crosses, bands, quotes int
		spread                                   float64 // Σ quoted spread / midpoint
	}
	// run simulates AAPL and FAKEPACA from start to end, counting the
	// trades and quotes in [from, to) and the rest over the whole span.
	run := func(start, end, from, to time.Time) map[string]*stats {
		s := mustNew(t, Options{Seed: 13, Rate: 2, Symbols: []string{"AAPL", "FAKEPACA"}, Start: start, Sessions: NYSESessions})
		st := map[string]*stats{"AAPL": {}, "FAKEPACA": {}}
		boot := bootStock * len(st) // the start-up snapshot: a status, a band, a quote and IEX's each
		span(s, end, func(events []market.Event, _ int64) {
			for i := range events {
				e := &events[i]
				if boot > 0 {
					boot--
					continue
				}
				x, counted := st[e.Symbol], e.Time >= from.UnixNano() && e.Time < to.UnixNano()
				switch {
				case e.Kind == market.KindLULD:
					x.bands++
				case e.Kind == market.KindTrade && (e.Trade.Conditions.Has('O') || e.Trade.Conditions.Has('6')):
					x.crosses++
				case e.Kind == market.KindTrade:
					if e.Trade.Conditions.Has('T') || e.Trade.Conditions.Has('U') {
						x.extended++
					}
					if counted {
						x.trades++
					}
				case e.Kind == market.KindQuote && counted:
					x.quotes++
					x.spread += (e.Quote.AskPrice - e.Quote.BidPrice) / (e.Quote.AskPrice + e.Quote.BidPrice) * 2
				}
			}
		})
		return st
	}
	saturday := at(2025, time.July, 19, 0, 0)
	sunday := saturday.Add(24 * time.Hour)
	weekend := run(saturday, sunday, saturday, sunday)
	// The weekday's session, 09:30-16:00, and around it its crosses.
	day := func(h, m int) time.Time {
		return summerDay.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	week := run(day(9, 20), day(16, 10), day(9, 30), day(16, 0))
	perHour := func(x *stats, hours float64) float64 { return float64(x.trades) / hours }
	spread := func(x *stats) float64 { return x.spread / float64(x.quotes) }
	fakeSat, fakeWeek, aaplSat, aaplWeek := weekend["FAKEPACA"], week["FAKEPACA"], weekend["AAPL"], week["AAPL"]
	t.Logf("trades an hour: FAKEPACA %.0f on Saturday, %.0f in the session; AAPL %.0f and %.0f",
		perHour(fakeSat, 24), perHour(fakeWeek, 6.5), perHour(aaplSat, 24), perHour(aaplWeek, 6.5))
	t.Logf("mean spread: FAKEPACA %.3f%% on Saturday, %.3f%% in the session; AAPL %.3f%% and %.3f%%",
		100*spread(fakeSat), 100*spread(fakeWeek), 100*spread(aaplSat), 100*spread(aaplWeek))

	if fakeSat.trades < 5000 || fakeSat.extended > 0 || fakeSat.crosses > 0 || fakeSat.bands == 0 {
		t.Errorf("FAKEPACA on Saturday: %d trades, %d of them extended-hours, %d crosses, %d bands; want many regular trades and bands",
			fakeSat.trades, fakeSat.extended, fakeSat.crosses, fakeSat.bands)
	}
	if r := perHour(fakeSat, 24) / perHour(fakeWeek, 6.5); r < 0.85 || r > 1.15 {
		t.Errorf("FAKEPACA trades %.2f times as often on Saturday as in a weekday session, want the same pace", r)
	}
	if r := spread(fakeSat) / spread(fakeWeek); r < 0.85 || r > 1.15 {
		t.Errorf("FAKEPACA's spread on Saturday is %.2f times that of a weekday session, want the same", r)
	}
	// In the session FAKEPACA has its weight's share of the stocks' pace.
	want := lookupProfile("FAKEPACA").weight / lookupProfile("AAPL").weight
	if r := float64(fakeWeek.trades) / float64(aaplWeek.trades) / want; r < 0.85 || r > 1.15 {
		t.Errorf("in the session FAKEPACA trades %.2f times its weight's share against AAPL, want 1", r)
	}
	if fakeWeek.crosses > 0 || fakeWeek.extended > 0 || aaplWeek.crosses != 2 {
		t.Errorf("weekday: %d crosses and %d extended-hours trades for FAKEPACA, %d crosses for AAPL; want none, none and 2",
			fakeWeek.crosses, fakeWeek.extended, aaplWeek.crosses)
	}

	if aaplSat.trades == 0 || aaplSat.extended != aaplSat.trades || aaplSat.crosses > 0 || aaplSat.bands > 0 {
		t.Errorf("AAPL on Saturday: %d trades, %d of them extended-hours, %d crosses, %d bands; want a trickle of form-T trades only",
			aaplSat.trades, aaplSat.extended, aaplSat.crosses, aaplSat.bands)
	}
	if r := perHour(aaplSat, 24) / perHour(aaplWeek, 6.5); r > 0.1 {
		t.Errorf("AAPL trades %.2f times as often on Saturday as in a weekday session, want a trickle", r)
	}
	if r := spread(aaplSat) / spread(aaplWeek); r < 3 {
		t.Errorf("AAPL's spread on Saturday is %.1f times that of a weekday session, want the night's wide one", r)
	}
}
