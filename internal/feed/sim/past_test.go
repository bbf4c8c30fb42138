package sim

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	nyse "github.com/tapehq/tape/internal/calendar"
	"github.com/tapehq/tape/internal/feed"
	"github.com/tapehq/tape/internal/market"
)

// pastEnd is a Wednesday morning, inside the regular session: the stock
// past ends with Tuesday's after-hours, the crypto past at 13:59 UTC.
var pastEnd = time.Date(2026, 7, 15, 14, 0, 30, 0, time.UTC)

func mustPast(t testing.TB, o PastOptions) *Past {
	t.Helper()
	p, err := NewPast(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// drain hands every event of p to fn, with the clock Next returned with
// it, and returns how many there were.
func drain(p *Past, fn func(e *market.Event, now int64)) int {
	n := 0
	var buf []market.Event
	for !p.Done() {
		var now int64
		buf, now = p.Next(buf[:0])
		for i := range buf {
			fn(&buf[i], now)
		}
		n += len(buf)
	}
	return n
}

// barOf returns the OHLCV of a stock or crypto bar event.
func barOf(e *market.Event) (o, h, l, c, v float64, n uint64) {
	if b := e.CryptoBar; b != nil {
		return b.Open, b.High, b.Low, b.Close, b.Volume, b.TradeCount
	}
	b := &e.Bar
	return b.Open, b.High, b.Low, b.Close, float64(b.Volume), b.TradeCount
}

// sendTime is when a past event goes out (see Past.Next): an IEX bar
// with its consolidated twin.
func sendTime(e *market.Event) int64 {
	switch e.Kind.Consolidated() {
	case market.KindBar, market.KindCryptoBar:
		return e.Time + minuteNs
	case market.KindDailyBar:
		return nextMidnight(nyse.DateOf(time.Unix(0, e.Time)))
	case market.KindCryptoDailyBar:
		// Stamped with Chicago midnight, sent at the end of the UTC day
		// it aggregates.
		return (e.Time/int64(nsPerDay) + 1) * int64(nsPerDay)
	}
	return e.Time
}

// hashPast digests a past's events and their batch clocks.
func hashPast(p *Past) uint64 {
	h := fnv.New64a()
	var b []byte
	drain(p, func(e *market.Event, now int64) {
		b = market.AppendBinary(b[:0], e)
		h.Write(b)
	})
	return h.Sum64()
}

func TestPastDeterminism(t *testing.T) {
	base := PastOptions{Seed: 1, End: pastEnd, Symbols: []string{"AAPL", "KO", "BRK.B"},
		CryptoSymbols: []string{"BTC/USD", "ETH/BTC", "USDT/USD"}, Days: 40, MinuteDays: 3}
	want := hashPast(mustPast(t, base))
	tests := []struct {
		name string
		edit func(o *PastOptions)
		same bool
	}{
		{"same options", func(o *PastOptions) {}, true},
		{"other batch size", func(o *PastOptions) { o.BatchSize = 7 }, true},
		{"other seed", func(o *PastOptions) { o.Seed = 2 }, false},
		{"other end", func(o *PastOptions) { o.End = o.End.Add(time.Hour) }, false},
		{"other rate", func(o *PastOptions) { o.Rate = 2000 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.edit(&o)
			if got := hashPast(mustPast(t, o)); (got == want) != tt.same {
				t.Errorf("same events: %v, want %v", got == want, tt.same)
			}
		})
	}
}

// TestPastPricesIndependent: a symbol's prices (its daily opens and closes,
// the auction prints at the skeleton's marks) do not depend on the Rate or
// on the other symbols simulated with it; its volumes do.
func TestPastPricesIndependent(t *testing.T) {
	marks := func(o PastOptions) (px []float64, vol float64) {
		drain(mustPast(t, o), func(e *market.Event, _ int64) {
			if e.Symbol == "AAPL" && e.Kind == market.KindDailyBar {
				px = append(px, e.Bar.Open, e.Bar.Close)
				vol += float64(e.Bar.Volume)
			}
		})
		return px, vol
	}
	o := PastOptions{Seed: 3, End: pastEnd, Days: 30, MinuteDays: 4}
	px1, v1 := marks(o)
	o.Symbols, o.Rate = []string{"AAPL"}, 100
	px2, v2 := marks(o)
	if !slices.Equal(px1, px2) {
		t.Errorf("AAPL's daily opens and closes depend on the other symbols:\n%v\n%v", px1, px2)
	}
	if v1 == v2 {
		t.Error("AAPL's volume does not depend on its share of Rate")
	}
}

// TestPastJoin: the past ends where the live simulator starts. Every
// symbol's last bar closes at its Resume price, the profile's start price;
// the live simulator's first trade is within the normal move between
// consecutive minute closes of the past; the same trade against the past
// two days earlier is not, for most symbols, so the bound would catch a
// jump.
func TestPastJoin(t *testing.T) {
	o := PastOptions{Seed: 5, End: pastEnd, CryptoSymbols: DefaultCryptoSymbols, Days: 10, MinuteDays: 2}
	p := mustPast(t, o)
	closes := map[string][]float64{}
	lastTime := map[string]int64{}
	drain(p, func(e *market.Event, _ int64) {
		if e.Kind == market.KindBar || e.Kind == market.KindCryptoBar {
			_, _, _, c, _, _ := barOf(e)
			closes[e.Symbol] = append(closes[e.Symbol], c)
			lastTime[e.Symbol] = e.Time
		}
	})
	resume := p.Resume()
	syms := append(slices.Clone(DefaultSymbols), DefaultCryptoSymbols...)
	for _, sym := range syms {
		c := closes[sym]
		st := resume[sym]
		start := profileFor(sym).price
		if strings.Contains(sym, "/") {
			pp := pairProfileFor(sym)
			start = math.Round(pp.price*math.Pow10(pp.pxDec)) / math.Pow10(pp.pxDec)
		} else {
			start = cents(toCents(start))
		}
		if len(c) == 0 || c[len(c)-1] != st.LastPrice || st.LastPrice != start || st.LastTime != lastTime[sym] {
			t.Errorf("%s: last close %v at %d, resume %+v, start price %v", sym, c[len(c)-1], lastTime[sym], st, start)
		}
	}

	live := mustNew(t, Options{Seed: 5, Start: o.End, CryptoSymbols: DefaultCryptoSymbols, Sessions: NYSESessions, Resume: resume})
	first := map[string]float64{}
	for len(first) < len(syms) {
		evs, _ := live.Next(nil)
		for _, e := range evs {
			switch _, seen := first[e.Symbol]; {
			case seen:
			case e.Kind == market.KindTrade:
				first[e.Symbol] = e.Trade.Price
			case e.Kind == market.KindCryptoTrade:
				first[e.Symbol] = e.CryptoTrade.Price
			}
		}
	}
	jumps := 0
	for _, sym := range syms {
		c := closes[sym]
		bound := moveBound(c)
		if sym == "USDT/USD" {
			bound = max(bound, 1e-4) // pegged: moves of a few ticks
		}
		if j := math.Abs(math.Log(first[sym] / c[len(c)-1])); j > bound {
			t.Errorf("%s: past closes at %v, live trades first at %v: a jump of %.3f%% (bound %.3f%%)",
				sym, c[len(c)-1], first[sym], 100*j, 100*bound)
		}
		if math.Abs(math.Log(first[sym]/c[0])) > bound {
			jumps++
		}
	}
	if jumps < len(syms)/2 {
		t.Errorf("against the past two days earlier only %d of %d symbols jump: the bound is too loose", jumps, len(syms))
	}
}

// dayAgg folds minute bars the way the daily bar must: OHLC over the
// regular session's minutes (every minute for crypto), volume and count
// over all.
type dayAgg struct {
	o, h, l, c, v float64
	n             uint64
	minutes       int
}

func (a *dayAgg) add(o, h, l, c, v float64, n uint64, prices bool) {
	a.minutes++
	a.v += v
	a.n += n
	if !prices {
		return
	}
	if a.o == 0 {
		a.o, a.h, a.l = o, h, l
	}
	a.h, a.l, a.c = max(a.h, h), min(a.l, l), c
}

// TestPastBars checks every event of a past over Thanksgiving (a holiday
// and an early close among the minute days): send order and flags, bar
// sanity, stock bars on trading days only and within their sessions,
// crypto bars every minute, and daily bars that are the aggregate of the
// day's minute bars.
func TestPastBars(t *testing.T) {
	end := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC) // the Monday after
	o := PastOptions{Seed: 7, End: end, Symbols: []string{"AAPL", "KO", "FAKEPACA", "BRK.B"},
		CryptoSymbols: []string{"BTC/USD", "ETH/BTC", "USDT/USD"}, Days: 20, MinuteDays: 5}
	p := mustPast(t, o)
	type key struct {
		sym string
		day int64
	}
	aggs := map[key]*dayAgg{}
	dailies := map[key]int{}
	cryptoMinutes := map[string][]int64{}
	var lastSend, lastNow int64
	compared, iex := 0, 0
	minuteDays := map[nyse.Date]bool{}
	n := drain(p, func(e *market.Event, now int64) {
		send := sendTime(e)
		switch {
		case send < lastSend:
			t.Fatalf("%s %v at %v sent at %v, after one sent at %v", e.Symbol, e.Kind, e.Timestamp(), time.Unix(0, send), time.Unix(0, lastSend))
		case send > end.UnixNano():
			t.Fatalf("%s %v at %v is sent after End", e.Symbol, e.Kind, e.Timestamp())
		case send > now || now < lastNow:
			t.Fatalf("batch clock %v for an event sent at %v (previous clock %v)", now, send, lastNow)
		case e.Flags != market.FlagSynthetic:
			t.Fatalf("flags %v, want synthetic", e.Flags)
		}
		lastSend, lastNow = send, now
		o, h, l, c, v, cnt := barOf(e)
		if !(l > 0 && l <= min(o, c) && h >= max(o, c)) || v < 0 {
			t.Fatalf("%s %v at %v: bad bar %v %v %v %v %v", e.Symbol, e.Kind, e.Timestamp(), o, h, l, c, v)
		}
		crypto := e.Kind.Class() == market.ClassCrypto
		if !crypto {
			for _, x := range []float64{o, h, l, c} {
				if x != cents(toCents(x)) {
					t.Fatalf("%s: price %v off the cent", e.Symbol, x)
				}
			}
			if v <= 0 || cnt == 0 {
				t.Fatalf("%s %v at %v: a stock bar without trades", e.Symbol, e.Kind, e.Timestamp())
			}
		}
		if e.Kind.IsIEX() {
			iex++
			return // TestPastIEX compares them with their twins
		}
		ny := time.Unix(0, e.Time).In(newYork)
		date := nyse.DateOf(ny)
		switch e.Kind {
		case market.KindBar:
			day, ok := nyse.TradingDay(date)
			if !ok || ny.Before(day.SessionOpen) || !ny.Before(day.SessionClose) {
				t.Fatalf("%s: minute bar at %v, outside the day's sessions", e.Symbol, ny)
			}
			minuteDays[date] = true
			k := key{e.Symbol, int64(date)}
			if aggs[k] == nil {
				aggs[k] = &dayAgg{}
			}
			aggs[k].add(o, h, l, c, v, cnt, !ny.Before(day.Open) && ny.Before(day.Close))
		case market.KindDailyBar:
			if !nyse.IsTradingDay(date) || e.Time != date.Time().UnixNano() {
				t.Fatalf("%s: daily bar at %v, not a trading day's midnight", e.Symbol, ny)
			}
			k := key{e.Symbol, int64(date)}
			dailies[k]++
			if aggs[k] != nil {
				compared++
			}
			if a := aggs[k]; a != nil && (a.o != o || a.h != h || a.l != l || a.c != c || a.v != v || a.n != cnt) {
				t.Errorf("%s %v: daily bar %v %v %v %v %v %d, its minutes give %v %v %v %v %v %d",
					e.Symbol, date, o, h, l, c, v, cnt, a.o, a.h, a.l, a.c, a.v, a.n)
			}
		case market.KindCryptoBar:
			cryptoMinutes[e.Symbol] = append(cryptoMinutes[e.Symbol], e.Time)
			k := key{e.Symbol, e.Time / int64(nsPerDay)}
			if aggs[k] == nil {
				aggs[k] = &dayAgg{}
			}
			aggs[k].add(o, h, l, c, v, cnt, true)
		case market.KindCryptoDailyBar:
			k := key{e.Symbol, e.Time / int64(nsPerDay)}
			dailies[k]++
			if tm := e.Timestamp().In(chicago); tm.Hour() != 0 || tm.Minute() != 0 || tm.Second() != 0 {
				t.Fatalf("%s: crypto daily bar at %v, not midnight in Chicago (Alpaca's crypto day)", e.Symbol, e.Timestamp())
			}
			a := aggs[k]
			if a != nil {
				compared++
			}
			if a != nil && a.minutes != dayMinutes {
				t.Errorf("%s: daily bar of %v over %d minute bars", e.Symbol, e.Timestamp(), a.minutes)
			}
			// Volumes are sums of decimals: equal up to rounding.
			if a != nil && (a.o != o || a.h != h || a.l != l || a.c != c || math.Abs(a.v-v) > 1e-9*v || a.n != cnt) {
				t.Errorf("%s %v: daily bar %v %v %v %v %v %d, its minutes give %v %v %v %v %v %d",
					e.Symbol, e.Timestamp(), o, h, l, c, v, cnt, a.o, a.h, a.l, a.c, a.v, a.n)
			}
		default:
			t.Fatalf("unexpected %v", e.Kind)
		}
	})
	// 4 stocks x 5 minute days, and 3 pairs x 10 whole UTC days with
	// minute bars (the 20th to the 29th).
	if want := 4*5 + 3*10; compared != want {
		t.Errorf("%d daily bars compared with their minutes, want %d", compared, want)
	}
	t.Logf("%d events, %d of them IEX bars", n, iex)
	if iex == 0 {
		t.Error("no IEX bars")
	}

	// Five minute days, the early close among them, none on the holiday.
	wantDays := []nyse.Date{nyse.NewDate(2026, 11, 20), nyse.NewDate(2026, 11, 23), nyse.NewDate(2026, 11, 24),
		nyse.NewDate(2026, 11, 25), nyse.NewDate(2026, 11, 27)}
	for _, d := range wantDays {
		if !minuteDays[d] {
			t.Errorf("no minute bars on %v", d)
		}
	}
	if len(minuteDays) != len(wantDays) {
		t.Errorf("minute bars on %d days, want %d", len(minuteDays), len(wantDays))
	}
	for k, a := range aggs {
		if dailies[k] != 1 && !strings.Contains(k.sym, "/") {
			t.Errorf("%s on day %d: %d minute bars and %d daily bars", k.sym, k.day, a.minutes, dailies[k])
		}
	}
	// Crypto: every minute from the first minute day's UTC midnight to
	// the minute before End, once.
	from := int64(wantDays[0]) * int64(nsPerDay)
	for _, sym := range o.CryptoSymbols {
		ts := cryptoMinutes[sym]
		want := int((end.UnixNano() - from) / minuteNs)
		if len(ts) != want || ts[0] != from || ts[len(ts)-1] != end.UnixNano()/minuteNs*minuteNs-minuteNs {
			t.Fatalf("%s: %d minute bars from %v to %v, want %d", sym, len(ts), time.Unix(0, ts[0]).UTC(), time.Unix(0, ts[len(ts)-1]).UTC(), want)
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] != ts[i-1]+minuteNs {
				t.Fatalf("%s: minute bars at %v then %v", sym, time.Unix(0, ts[i-1]).UTC(), time.Unix(0, ts[i]).UTC())
			}
		}
	}
	// Daily bars: every trading day within Days for the stocks, every
	// whole UTC day for the pairs.
	for _, sym := range o.Symbols {
		for d := nyse.DateOf(end.AddDate(0, 0, -o.Days)); d < nyse.DateOf(end); d++ {
			if got := dailies[key{sym, int64(d)}]; got != map[bool]int{true: 1}[nyse.IsTradingDay(d)] {
				t.Errorf("%s: %d daily bars on %v (trading: %v)", sym, got, d, nyse.IsTradingDay(d))
			}
		}
	}
	for _, sym := range o.CryptoSymbols {
		for d := end.AddDate(0, 0, -o.Days).UnixNano() / int64(nsPerDay); d < end.UnixNano()/int64(nsPerDay); d++ {
			if dailies[key{sym, d}] != 1 {
				t.Errorf("%s: %d daily bars on UTC day %v", sym, dailies[key{sym, d}], time.Unix(d*86400, 0).UTC())
			}
		}
		if today := end.UnixNano() / int64(nsPerDay); dailies[key{sym, today}] != 0 {
			t.Errorf("%s: a daily bar for End's own day", sym)
		}
	}
}

// TestPastEarlyClose: on the day after Thanksgiving the regular session
// closes at 13:00 and after-hours at 17:00.
func TestPastEarlyClose(t *testing.T) {
	p := mustPast(t, PastOptions{Seed: 1, End: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Symbols: []string{"SPY"},
		Days: 3, MinuteDays: 1})
	var first, last time.Time
	drain(p, func(e *market.Event, _ int64) {
		if e.Kind == market.KindBar {
			if first.IsZero() {
				first = e.Timestamp().In(newYork)
			}
			last = e.Timestamp().In(newYork)
		}
	})
	if want := at(2026, time.November, 27, 16, 59); !last.Equal(want) {
		t.Errorf("last minute bar at %v, want %v", last, want)
	}
	if want := at(2026, time.November, 27, 4, 0); first.Before(want) || first.After(want.Add(10*time.Minute)) {
		t.Errorf("first minute bar at %v, want soon after %v", first, want)
	}
}

// TestPastVolatility: close-to-close daily returns show the profiles'
// annualised volatility (stocks over 252 trading days, crypto over 365):
// each symbol within sampling error, and the symbols on average within 8%.
func TestPastVolatility(t *testing.T) {
	days := 3 * 365
	if raceEnabled {
		days = 365
	}
	o := PastOptions{Seed: 11, End: pastEnd, CryptoSymbols: DefaultCryptoSymbols, Days: days, MinuteDays: -1}
	closes := map[string][]float64{}
	drain(mustPast(t, o), func(e *market.Event, _ int64) {
		if e.Kind == market.KindDailyBar || e.Kind == market.KindCryptoDailyBar {
			_, _, _, c, _, _ := barOf(e)
			closes[e.Symbol] = append(closes[e.Symbol], c)
		}
	})
	sum, n := 0.0, 0
	for _, sym := range append(slices.Clone(DefaultSymbols), DefaultCryptoSymbols...) {
		want, perYear := profileFor(sym).vol, 252.0
		if strings.Contains(sym, "/") {
			pp := pairProfileFor(sym)
			if pp.stable {
				continue
			}
			want, perYear = pp.vol, 365
		}
		c := closes[sym]
		var ss float64
		for i := 1; i < len(c); i++ {
			r := math.Log(c[i] / c[i-1])
			ss += r * r
		}
		got := math.Sqrt(ss / float64(len(c)-1) * perYear)
		ratio := got / want
		// Sampling error of a volatility over N returns is about
		// 1/sqrt(2N) (more with the fat tails): 4% over 750 returns.
		tol := 5 / math.Sqrt(2*float64(len(c)))
		if math.Abs(ratio-1) > tol {
			t.Errorf("%s: volatility %.3f over %d days, profile %.3f", sym, got, len(c), want)
		}
		sum += ratio
		n++
	}
	if mean := sum / float64(n); math.Abs(mean-1) > 0.08 {
		t.Errorf("volatility %.3f times the profiles' on average", mean)
	}
}

// TestPastIntraday: volume follows the intraday curve (the first half hour
// busier than midday, extended hours thinner), the after-hours are thinner
// than the session but not empty, and crypto is quieter at the weekend.
func TestPastIntraday(t *testing.T) {
	o := PastOptions{Seed: 2, End: pastEnd, Symbols: []string{"AAPL"}, CryptoSymbols: []string{"BTC/USD"}, Days: 15, MinuteDays: 10}
	var open, midday, ext, weekday, weekend [2]float64 // volume, minutes
	drain(mustPast(t, o), func(e *market.Event, _ int64) {
		switch e.Kind {
		case market.KindBar:
			ny := e.Timestamp().In(newYork)
			m := ny.Hour()*60 + ny.Minute()
			v := float64(e.Bar.Volume)
			switch {
			case m >= regularOpen+1 && m < regularOpen+30: // the opening cross aside
				open[0], open[1] = open[0]+v, open[1]+1
			case m >= 12*60 && m < 14*60:
				midday[0], midday[1] = midday[0]+v, midday[1]+1
			case m < regularOpen || m >= regularEnd+1:
				ext[0], ext[1] = ext[0]+v, ext[1]+1
			}
		case market.KindCryptoBar:
			if wd := e.Timestamp().Weekday(); wd == time.Saturday || wd == time.Sunday {
				weekend[0], weekend[1] = weekend[0]+e.CryptoBar.Volume, weekend[1]+1
			} else {
				weekday[0], weekday[1] = weekday[0]+e.CryptoBar.Volume, weekday[1]+1
			}
		}
	})
	mean := func(a [2]float64) float64 { return a[0] / a[1] }
	if mean(open) < 1.5*mean(midday) {
		t.Errorf("first half hour %.0f shares a minute, midday %.0f", mean(open), mean(midday))
	}
	if mean(ext) > 0.5*mean(midday) || ext[1] < 1000 {
		t.Errorf("extended hours: %.0f shares a minute over %v minutes, midday %.0f", mean(ext), ext[1], mean(midday))
	}
	if mean(weekend) > 0.8*mean(weekday) {
		t.Errorf("crypto: weekend %.3f a minute, weekdays %.3f", mean(weekend), mean(weekday))
	}
}

func TestPastOptions(t *testing.T) {
	bad := []struct {
		name string
		o    PastOptions
	}{
		{"invalid symbol", PastOptions{Symbols: []string{"aapl"}}},
		{"invalid pair", PastOptions{CryptoSymbols: []string{"BTC-USD"}}},
		{"duplicate", PastOptions{Symbols: []string{"KO", "KO"}}},
		{"no symbols", PastOptions{Symbols: []string{}}},
		{"negative days", PastOptions{Days: -1}},
		{"negative batch", PastOptions{BatchSize: -1}},
		{"NaN rate", PastOptions{Rate: math.NaN()}},
		{"end too early", PastOptions{End: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPast(tt.o); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("daily only", func(t *testing.T) {
		kinds := map[market.Kind]int{}
		drain(mustPast(t, PastOptions{End: pastEnd, Symbols: []string{"KO"}, CryptoSymbols: []string{"BTC/USD"}, MinuteDays: -1, Days: 30}),
			func(e *market.Event, _ int64) { kinds[e.Kind]++ })
		if kinds[market.KindBar]+kinds[market.KindCryptoBar] != 0 || kinds[market.KindDailyBar] < 19 || kinds[market.KindCryptoDailyBar] != 30 {
			t.Errorf("kinds %v", kinds)
		}
	})
	t.Run("days cover the minute days", func(t *testing.T) {
		daily := 0
		drain(mustPast(t, PastOptions{End: pastEnd, Symbols: []string{"KO"}, MinuteDays: 15, Days: 2}),
			func(e *market.Event, _ int64) {
				if e.Kind == market.KindDailyBar {
					daily++
				}
			})
		if daily != 15 {
			t.Errorf("%d daily bars, want one per minute day (15)", daily)
		}
	})
}

// TestPastRun plays a past through Run: every event arrives, in order, in
// batches of at most BatchSize whose clock never goes back, and Run
// returns nil; a cancelled Run returns the context's error.
func TestPastRun(t *testing.T) {
	o := PastOptions{Seed: 1, End: pastEnd, Symbols: []string{"AAPL", "SPY"}, CryptoSymbols: []string{"ETH/USD"}, Days: 20, MinuteDays: 2, BatchSize: 1000}
	want := drain(mustPast(t, o), func(*market.Event, int64) {})
	out := make(chan feed.Batch, 4)
	done := make(chan error, 1)
	go func() { done <- mustPast(t, o).Run(context.Background(), out) }()
	got, prev := 0, int64(0)
	for {
		select {
		case b := <-out:
			if len(b.Events) == 0 || len(b.Events) > o.BatchSize || b.Now < prev {
				t.Fatalf("batch of %d events at %d after %d", len(b.Events), b.Now, prev)
			}
			got, prev = got+len(b.Events), b.Now
			continue
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	for len(out) > 0 {
		got += len((<-out).Events)
	}
	if got != want {
		t.Errorf("Run sent %d events, Next gives %d", got, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mustPast(t, o).Run(ctx, make(chan feed.Batch)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Run: %v", err)
	}
}

// BenchmarkPast generates the default past (DefaultSymbols and
// DefaultCryptoSymbols, a year of daily bars, 20 days of minute bars). One
// op is one event; "whole" reports one whole past per op, with its events.
func BenchmarkPast(b *testing.B) {
	o := PastOptions{Seed: 1, End: pastEnd, CryptoSymbols: DefaultCryptoSymbols}
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(nominalEventBytes)
		buf := make([]market.Event, 0, defaultPastBatch)
		p := mustPast(b, o)
		for n := 0; n < b.N; {
			if p.Done() {
				p = mustPast(b, o)
			}
			buf, _ = p.Next(buf[:0])
			n += len(buf)
		}
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		events := 0
		for range b.N {
			events = drain(mustPast(b, o), func(*market.Event, int64) {})
		}
		b.ReportMetric(float64(events), "events/op")
	})
}

// TestPastNews: with News, the past carries articles over the minute
// bars' span, in time order among the bars, none after End, with updates,
// quoting prices near the skeleton's.
func TestPastNews(t *testing.T) {
	o := PastOptions{Seed: 1, End: pastEnd, Symbols: []string{"AAPL", "KO"}, CryptoSymbols: []string{"BTC/USD"},
		Days: 10, MinuteDays: 3, News: 20}
	var news []*market.News
	first := int64(math.MaxInt64)
	ids := map[int64]int{}
	drain(mustPast(t, o), func(e *market.Event, _ int64) {
		if e.Kind == market.KindNews {
			if e.Symbol != "" || e.News == nil || e.Time != e.News.UpdatedAt || e.Time > pastEnd.UnixNano() || e.Flags != market.FlagSynthetic {
				t.Fatalf("news event %+v", e)
			}
			news = append(news, e.News)
			ids[e.News.ID]++
			first = min(first, e.Time)
		}
	})
	// Three trading days back is Friday the 10th (the minute span starts
	// there); 20 an hour on average over a week.
	if from := time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC).UnixNano(); first < from || first > from+int64(6*time.Hour) {
		t.Errorf("first article at %v", time.Unix(0, first).UTC())
	}
	hours := pastEnd.Sub(time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC)).Hours()
	if n := float64(len(ids)); n < 0.5*20*hours || n > 1.5*20*hours {
		t.Errorf("%v articles in %.0f hours", n, hours)
	}
	if len(ids) == len(news) {
		t.Error("no updates")
	}
}
