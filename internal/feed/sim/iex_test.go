package sim

import (
	"reflect"
	"testing"
	"time"

	nyse "github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/market"
)

// iexStats are one symbol's quotes on both views.
type iexStats struct {
	nbbo, iex          int     // quotes
	bidIn, askIn       int     // IEX quotes at the NBBO's price on that side
	nbboSize, iexSize  float64 // Σ bid and ask sizes, lots
	iexTrades, trades  int
	bootIEX, bootQuote bool // in the start-up snapshot
}

// iexRun runs s to end through the stream checker (which checks every IEX
// quote against the NBBO standing at it; session, if not nil, tells it the
// calendar's phases) and returns each symbol's quotes on both views.
func iexRun(t *testing.T, s *Sim, end time.Time, session func(int64) phase) (map[string]*iexStats, *checker) {
	t.Helper()
	c := newChecker(t)
	if session != nil {
		c.session = session
	}
	st := map[string]*iexStats{}
	boot := bootStock * len(s.syms)
	span(s, end, func(events []market.Event, now int64) {
		c.batch(events, now)
		for i := range events {
			e := &events[i]
			x := st[e.Symbol]
			if x == nil {
				x = &iexStats{}
				st[e.Symbol] = x
			}
			switch e.Kind {
			case market.KindQuote:
				x.nbbo++
				x.nbboSize += float64(e.Quote.BidSize + e.Quote.AskSize)
				x.bootQuote = x.bootQuote || boot > 0
			case market.KindIEXQuote:
				x.iex++
				x.iexSize += float64(e.Quote.BidSize + e.Quote.AskSize)
				n := c.quotes[e.Symbol] // the NBBO standing at it, which the checker keeps
				if e.Quote.BidPrice == n.BidPrice {
					x.bidIn++
				}
				if e.Quote.AskPrice == n.AskPrice {
					x.askIn++
				}
				x.bootIEX = x.bootIEX || boot > 0
			case market.KindTrade:
				x.trades++
				if e.OnIEX() {
					x.iexTrades++
				}
			}
			boot--
		}
	})
	return st, c
}

// TestIEXQuotes checks IEX's own top of book in a regular session: every
// symbol has IEX quotes from the start-up snapshot on, on exchange V,
// never crossed and never better than the NBBO standing at them (the
// stream checker), at the NBBO's price a fair share of the time but not
// always, with smaller sizes, at a reasonable fraction of the NBBO's
// updates; FAKEPACA as any other stock. Batching does not change them.
func TestIEXQuotes(t *testing.T) {
	rate := 200.0
	if raceEnabled {
		rate = 50
	}
	start := summerDay.Add(9*time.Hour + 29*time.Minute)
	opts := Options{Seed: 21, Rate: rate, Start: start, Symbols: []string{"SPY", "AAPL", "META", "KO", "FAKEPACA", "ROKU"}}
	st, c := iexRun(t, mustNew(t, opts), start.Add(30*time.Minute), nil)
	if c.failures > 0 {
		t.Fatalf("%d stream errors", c.failures)
	}
	for _, sym := range opts.Symbols {
		x := st[sym]
		ratio := float64(x.iex) / float64(x.nbbo)
		bidIn, askIn := float64(x.bidIn)/float64(x.iex), float64(x.askIn)/float64(x.iex)
		nbboSize, iexSize := x.nbboSize/float64(2*x.nbbo), x.iexSize/float64(2*x.iex)
		t.Logf("%-8s %6d NBBO and %6d IEX quotes (%4.1f%%), IEX at the bid %2.0f%% and the ask %2.0f%%, mean size %4.1f lots against %4.1f; %d of %d trades on IEX",
			sym, x.nbbo, x.iex, 100*ratio, 100*bidIn, 100*askIn, iexSize, nbboSize, x.iexTrades, x.trades)
		switch {
		case !x.bootQuote || !x.bootIEX:
			t.Errorf("%s: start-up snapshot with an NBBO quote %v, with IEX's %v", sym, x.bootQuote, x.bootIEX)
		case ratio < 0.05 || ratio > 1:
			t.Errorf("%s: %d IEX quotes for %d NBBO quotes, want 5-100%%", sym, x.iex, x.nbbo)
		case bidIn < 0.2 || bidIn > 0.9 || askIn < 0.2 || askIn > 0.9:
			t.Errorf("%s: IEX at the NBBO bid in %.0f%% and at the ask in %.0f%% of its quotes, want a fair share, not always",
				sym, 100*bidIn, 100*askIn)
		case iexSize > nbboSize:
			t.Errorf("%s: IEX shows %.1f lots on average, more than the NBBO's %.1f", sym, iexSize, nbboSize)
		case x.iexTrades == 0 || float64(x.iexTrades) > 0.15*float64(x.trades):
			t.Errorf("%s: %d of %d trades on IEX", sym, x.iexTrades, x.trades)
		}
	}

	// The smallest batches hold a stock quote and IEX's (BatchSize is
	// raised to 2) and give the same events.
	n := 20_000
	want := take(mustNew(t, opts), n)[:n]
	small := opts
	small.BatchSize = 1
	s := mustNew(t, small)
	var got []market.Event
	for len(got) < n {
		before := len(got)
		got, _ = s.Next(got)
		if len(got)-before > maxStockEvents {
			t.Fatalf("a batch of %d events, BatchSize 1", len(got)-before)
		}
	}
	if !reflect.DeepEqual(got[:n], want) {
		t.Error("BatchSize 1 gives other events")
	}
}

// TestIEXQuotesAroundTheClock: IEX's book follows the NBBO wherever there
// is one. On a Saturday AAPL keeps the closed day's trickle of NBBO quotes
// and so of IEX's; FAKEPACA, trading around the clock, has IEX quotes as on
// a weekday.
func TestIEXQuotesAroundTheClock(t *testing.T) {
	saturday := at(2025, time.July, 19, 10, 0)
	s := mustNew(t, Options{Seed: 22, Rate: 20, Symbols: []string{"AAPL", "FAKEPACA"}, Start: saturday, Sessions: NYSESessions})
	closed := func(int64) phase { return overnight } // all day, but for FAKEPACA
	st, c := iexRun(t, s, saturday.Add(2*time.Hour), closed)
	if c.failures > 0 {
		t.Fatalf("%d stream errors", c.failures)
	}
	for sym, x := range st {
		t.Logf("%-8s %d NBBO and %d IEX quotes", sym, x.nbbo, x.iex)
		if x.iex < 2 || x.iex > x.nbbo || float64(x.iex) < 0.05*float64(x.nbbo) {
			t.Errorf("%s: %d IEX quotes for %d NBBO quotes", sym, x.iex, x.nbbo)
		}
	}
	// FAKEPACA has a seventh of AAPL's weight, but a session against its
	// trickle.
	if st["FAKEPACA"].iex < 2*st["AAPL"].iex {
		t.Errorf("FAKEPACA %d IEX quotes, AAPL %d: want FAKEPACA's session against AAPL's trickle", st["FAKEPACA"].iex, st["AAPL"].iex)
	}
}

// TestPastIEX checks the IEX view of the past: every IEX bar is synthetic,
// follows its consolidated twin (same symbol, time and send time) and
// lies within it (prices within its range, volume and trade count at
// most its own), volumes are a few percent of the consolidated ones,
// liquid names have IEX bars in nearly every regular minute, and an IEX
// daily bar is the aggregate of the day's IEX minute bars where those
// exist (by the bar builder's rules: prices over the regular session's
// minutes). At a low Rate thin minutes have no IEX bar.
func TestPastIEX(t *testing.T) {
	for _, tt := range []struct {
		name string
		rate float64
	}{{"default rate", 0}, {"low rate", 10}} {
		t.Run(tt.name, func(t *testing.T) {
			pastIEX(t, PastOptions{Seed: 7, Rate: tt.rate, End: pastEnd, Symbols: []string{"AAPL", "KO", "FAKEPACA", "BRK.B", "ROKU"},
				Days: 30, MinuteDays: 4}, tt.rate == 0)
		})
	}
}

func pastIEX(t *testing.T, o PastOptions, liquid bool) {
	type key struct {
		sym string
		t   int64
	}
	var last market.Event     // the event before: an IEX bar's twin
	aggs := map[key]*dayAgg{} // IEX minute bars by symbol and New York date
	var iexV, sipV [2]float64 // minute, daily
	regular := map[string]*[2]int{}
	dailies, sipDailies, compared := 0, 0, 0
	drain(mustPast(t, o), func(e *market.Event, _ int64) {
		defer func() { last = *e }()
		if !e.Kind.IsIEX() {
			switch e.Kind {
			case market.KindBar:
				sipV[0] += float64(e.Bar.Volume)
				ny := e.Timestamp().In(newYork)
				day, _ := nyse.TradingDay(nyse.DateOf(ny))
				if !ny.Before(day.Open) && ny.Before(day.Close) {
					if regular[e.Symbol] == nil {
						regular[e.Symbol] = &[2]int{}
					}
					regular[e.Symbol][0]++
				}
			case market.KindDailyBar:
				sipV[1] += float64(e.Bar.Volume)
				sipDailies++
			}
			return
		}
		b := &e.Bar
		if e.Flags != market.FlagSynthetic {
			t.Fatalf("%s %v at %v: flags %v, want synthetic", e.Symbol, e.Kind, e.Timestamp(), e.Flags)
		}
		if last.Kind != e.Kind.Consolidated() || last.Symbol != e.Symbol || last.Time != e.Time {
			t.Fatalf("%s %v at %v does not follow its consolidated twin (the event before: %+v)", e.Symbol, e.Kind, e.Timestamp(), last)
		}
		s := &last.Bar
		if !(b.Low > 0 && b.Low >= s.Low && b.High <= s.High && b.Low <= min(b.Open, b.Close, b.VWAP) && b.High >= max(b.Open, b.Close, b.VWAP)) ||
			b.Volume == 0 || b.Volume > s.Volume || b.TradeCount == 0 || b.TradeCount > s.TradeCount || b.Volume < b.TradeCount {
			t.Fatalf("%s %v at %v: %+v, its consolidated twin %+v", e.Symbol, e.Kind, e.Timestamp(), *b, *s)
		}
		for _, x := range []float64{b.Open, b.High, b.Low, b.Close} {
			if x != cents(toCents(x)) {
				t.Fatalf("%s: price %v off the cent", e.Symbol, x)
			}
		}
		ny := e.Timestamp().In(newYork)
		date := nyse.DateOf(ny)
		k := key{e.Symbol, int64(date)}
		switch e.Kind {
		case market.KindIEXBar:
			iexV[0] += float64(b.Volume)
			day, _ := nyse.TradingDay(date)
			session := !ny.Before(day.Open) && ny.Before(day.Close)
			if session {
				regular[e.Symbol][1]++
			}
			if aggs[k] == nil {
				aggs[k] = &dayAgg{}
			}
			aggs[k].add(b.Open, b.High, b.Low, b.Close, float64(b.Volume), b.TradeCount, session)
		case market.KindIEXDailyBar:
			iexV[1] += float64(b.Volume)
			dailies++
			a := aggs[k]
			if a == nil {
				return // a day without minute bars
			}
			compared++
			if a.o != b.Open || a.h != b.High || a.l != b.Low || a.c != b.Close || a.v != float64(b.Volume) || a.n != b.TradeCount {
				t.Errorf("%s %v: IEX daily bar %+v, its minutes give %v %v %v %v %v %d", e.Symbol, date, *b, a.o, a.h, a.l, a.c, a.v, a.n)
			}
			delete(aggs, k)
		default:
			t.Fatalf("unexpected %v", e.Kind)
		}
	})
	for k, a := range aggs {
		if a.o != 0 {
			t.Errorf("%s on %v: IEX minute bars in the session, no IEX daily bar", k.sym, nyse.Date(k.t))
		}
	}
	if want := len(o.Symbols) * o.MinuteDays; compared != want && liquid || compared == 0 {
		t.Errorf("%d IEX daily bars compared with their minutes, want %d", compared, want)
	}
	t.Logf("%d IEX daily bars for %d consolidated ones; IEX volume %.1f%% of the consolidated in minute bars, %.1f%% in daily bars",
		dailies, sipDailies, 100*iexV[0]/sipV[0], 100*iexV[1]/sipV[1])
	if dailies < sipDailies*95/100 && liquid || dailies == 0 {
		t.Errorf("%d IEX daily bars for %d consolidated ones", dailies, sipDailies)
	}
	for i, what := range []string{"minute", "daily"} {
		if r := iexV[i] / sipV[i]; r < 0.02 || r > 0.08 {
			t.Errorf("IEX %s volume %.1f%% of the consolidated, want a few percent", what, 100*r)
		}
	}
	for _, sym := range []string{"AAPL", "KO", "ROKU"} {
		n := regular[sym]
		t.Logf("%s: IEX bars in %d of %d regular minutes", sym, n[1], n[0])
		if liquid && float64(n[1]) < 0.9*float64(n[0]) || n[1] == 0 {
			t.Errorf("%s: IEX bars in %d of %d regular minutes, want nearly all", sym, n[1], n[0])
		}
	}
}
