package forexsim

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tapehq/tape/internal/market"
)

func ny(s string) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, market.NewYork)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func TestWeek(t *testing.T) {
	tests := []struct {
		at, open, close string
		isOpen          bool
	}{
		{"2024-03-06 12:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},
		{"2024-03-03 17:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},  // the open is open
		{"2024-03-03 16:59:59", "2024-02-25 17:00:00", "2024-03-01 17:00:00", false}, // Sunday before the open
		{"2024-03-08 16:59:59", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},  // the last second
		{"2024-03-08 17:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", false}, // the close is closed
		{"2024-03-09 12:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", false}, // Saturday
		{"2024-03-10 12:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", false}, // the DST Sunday, EDT since 02:00
		{"2024-03-10 17:00:00", "2024-03-10 17:00:00", "2024-03-15 17:00:00", true},  // opens at 21:00Z, an hour earlier in UTC
		{"2024-11-03 18:00:00", "2024-11-03 17:00:00", "2024-11-08 17:00:00", true},  // back to EST
		{"1969-12-31 19:00:00", "1969-12-28 17:00:00", "1970-01-02 17:00:00", true},  // before the epoch
		{"2024-12-25 10:00:00", "2024-12-22 17:00:00", "2024-12-27 17:00:00", true},  // no holidays
		{"2024-03-02 00:00:00", "2024-02-25 17:00:00", "2024-03-01 17:00:00", false}, // Saturday midnight
		{"2024-03-04 00:00:00", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},  // Monday midnight
		{"2024-03-03 23:59:59", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},  // Sunday evening
		{"2024-03-01 23:00:00", "2024-02-25 17:00:00", "2024-03-01 17:00:00", false}, // Friday evening
		{"2024-02-29 23:00:00", "2024-02-25 17:00:00", "2024-03-01 17:00:00", true},  // leap day
		{"2024-02-25 17:00:00", "2024-02-25 17:00:00", "2024-03-01 17:00:00", true},  // month boundary in the week
		{"2024-03-31 17:00:00", "2024-03-31 17:00:00", "2024-04-05 17:00:00", true},  // and in the next
		{"2023-12-31 17:00:00", "2023-12-31 17:00:00", "2024-01-05 17:00:00", true},  // a year boundary
		{"2023-12-30 17:00:00", "2023-12-24 17:00:00", "2023-12-29 17:00:00", false}, // Saturday before it
		{"2024-01-01 00:00:00", "2023-12-31 17:00:00", "2024-01-05 17:00:00", true},  // New Year's Day trades
		{"2024-03-08 16:59:59.999", "2024-03-03 17:00:00", "2024-03-08 17:00:00", true},
	}
	for _, tc := range tests {
		at := nyFrac(tc.at)
		open, close := Week(at)
		if open != ny(tc.open) || close != ny(tc.close) {
			t.Errorf("Week(%s) = %s, %s; want %s, %s", tc.at, fmtNY(open), fmtNY(close), tc.open, tc.close)
		}
		if IsOpen(at) != tc.isOpen {
			t.Errorf("IsOpen(%s) = %v", tc.at, !tc.isOpen)
		}
	}
	// The DST week opens at 21:00Z; the week before closed at 22:00Z.
	if o, _ := Week(ny("2024-03-12 12:00:00")); time.Unix(0, o).UTC().Hour() != 21 {
		t.Errorf("DST week opens at %s", time.Unix(0, o).UTC())
	}
}

func nyFrac(s string) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999", s, market.NewYork)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func fmtNY(ns int64) string {
	return time.Unix(0, ns).In(market.NewYork).Format("2006-01-02 15:04:05 MST")
}

// TestTimes compares the grid walk with brute force: every multiple of the
// step in range, kept where the market is open.
func TestTimes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	steps := []time.Duration{5 * time.Second, time.Minute, 7 * time.Minute, time.Hour, 5 * time.Hour, 24 * time.Hour}
	base := ny("2024-03-01 00:00:00")
	for i := range 400 {
		step := steps[r.IntN(len(steps))]
		span := int64(step) * int64(50+r.IntN(3000))
		if step == 5*time.Second {
			span = int64(step) * int64(50+r.IntN(60000)) // across a weekend
		}
		start := base + r.Int64N(int64(40*24*time.Hour))
		if i%7 == 0 {
			start = start / int64(step) * int64(step) // on the grid
		}
		end := start + r.Int64N(span)
		var want []int64
		for t := (start + int64(step) - 1) / int64(step) * int64(step); t <= end; t += int64(step) {
			if IsOpen(t) {
				want = append(want, t)
			}
		}
		got := slices.Collect(Times(start, end, step, false))
		if !slices.Equal(got, want) {
			t.Fatalf("asc %v [%s, %s]: %d instants, want %d", step, fmtNY(start), fmtNY(end), len(got), len(want))
		}
		slices.Reverse(want)
		if got := slices.Collect(Times(start, end, step, true)); !slices.Equal(got, want) {
			t.Fatalf("desc %v [%s, %s]: %d instants, want %d", step, fmtNY(start), fmtNY(end), len(got), len(want))
		}
	}
	// Days sample at 00:00 UTC, Monday to Friday.
	days := slices.Collect(Times(ny("2024-03-02 00:00:00"), ny("2024-03-10 00:00:00"), 24*time.Hour, false))
	var got []string
	for _, d := range days {
		got = append(got, time.Unix(0, d).UTC().Format("Mon 02 15:04"))
	}
	if want := []string{"Mon 04 00:00", "Tue 05 00:00", "Wed 06 00:00", "Thu 07 00:00", "Fri 08 00:00"}; !slices.Equal(got, want) {
		t.Errorf("daily instants %v, want %v", got, want)
	}
	// Degenerate input yields nothing and does not hang.
	for _, tc := range []struct {
		start, end int64
		step       time.Duration
	}{{0, 1e18, 0}, {0, 1e18, -time.Minute}, {0, 1e18, 3 * time.Second}, {10, 0, time.Minute}, {math.MinInt64, math.MinInt64 + 1, time.Minute}} {
		if n := len(slices.Collect(Times(tc.start, tc.end, tc.step, false))); n != 0 {
			t.Errorf("Times(%d, %d, %v): %d instants", tc.start, tc.end, tc.step, n)
		}
	}
	// The extremes are clamped, not overflowed: a walk from the earliest
	// time starts late in 1823, one to the latest ends early in 2116.
	for t0 := range Times(math.MinInt64, math.MaxInt64, 24*time.Hour, false) {
		if y := time.Unix(0, t0).UTC().Year(); y != 1823 {
			t.Errorf("first instant in %d", y)
		}
		break
	}
	for t0 := range Times(math.MinInt64, math.MaxInt64, 24*time.Hour, true) {
		if y := time.Unix(0, t0).UTC().Year(); y != 2116 {
			t.Errorf("last instant in %d", y)
		}
		break
	}
}

func TestLookup(t *testing.T) {
	for name, want := range map[string]error{
		"USDJPY": nil, "EURUSD": nil, "EURJPY": nil, "JPYUSD": nil, "ZARHKD": nil,
		"USDUSD": ErrUnknown, "USDXYZ": ErrUnknown, "XAUUSD": ErrUnknown,
		"USD": ErrMalformed, "USDJPYX": ErrMalformed, "usdjpy": ErrMalformed, "USD/JP": ErrMalformed, "": ErrMalformed, "USDJP1": ErrMalformed,
	} {
		p, err := Lookup(name)
		if !errors.Is(err, want) {
			t.Errorf("Lookup(%q): %v, want %v", name, err, want)
		}
		if err == nil && p.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, p.Name())
		}
	}
	for _, name := range Majors {
		if _, err := Lookup(name); err != nil {
			t.Errorf("major %s: %v", name, err)
		}
	}
	if got := Currencies(); len(got) != len(currencies) || !slices.IsSorted(got) {
		t.Errorf("Currencies() = %v", got)
	}
}

func mustPair(name string) Pair {
	p, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return p
}

// anchors are the levels the majors stay near.
var anchors = map[string]float64{"AUDUSD": 0.66, "EURUSD": 1.085, "GBPUSD": 1.27, "NZDUSD": 0.61, "USDCAD": 1.36, "USDCHF": 0.88,
	"USDCNH": 7.2, "USDHKD": 7.82, "USDJPY": 150, "USDMXN": 17, "USDNOK": 10.6, "USDSEK": 10.5, "USDSGD": 1.34, "USDZAR": 18.6}

// TestRates samples two years of rates of every major and some crosses:
// ordered, near their levels, with plausible spreads and quoting
// precision, the same on every call.
func TestRates(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	from := ny("2023-01-01 00:00:00")
	names := append(slices.Clone(Majors), "EURJPY", "EURGBP", "GBPJPY", "AUDNZD", "JPYUSD", "ZARMXN")
	for _, name := range names {
		p := mustPair(name)
		for range 3000 {
			at := from + r.Int64N(int64(2*365*24*time.Hour))
			rt := p.At(at)
			if rt != p.At(at) {
				t.Fatalf("%s at %s: not deterministic", name, fmtNY(at))
			}
			if !(rt.Bid < rt.Ask && rt.Bid <= rt.Mid && rt.Mid <= rt.Ask) || rt.Bid <= 0 {
				t.Fatalf("%s at %s: %+v", name, fmtNY(at), rt)
			}
			if math.Abs(rt.Mid-(rt.Bid+rt.Ask)/2) > 1e-9*rt.Mid {
				t.Fatalf("%s at %s: mid %v is not the average of %v and %v", name, fmtNY(at), rt.Mid, rt.Bid, rt.Ask)
			}
			if a, ok := anchors[name]; ok && math.Abs(math.Log(rt.Mid/a)) > 0.3 {
				t.Fatalf("%s at %s: %v strays from %v", name, fmtNY(at), rt.Mid, a)
			}
			// The widest: five times the typical spread, plus the rounding.
			limit := 2*5*(p.base.half+p.quote.half) + 2/(p.scale*rt.Mid)
			if spread := (rt.Ask - rt.Bid) / rt.Mid; spread > limit {
				t.Fatalf("%s at %s: spread %.6f > %.6f", name, fmtNY(at), spread, limit)
			}
			for _, v := range []float64{rt.Bid, rt.Ask} {
				if math.Abs(v*p.scale-math.Round(v*p.scale)) > 1e-6 {
					t.Fatalf("%s at %s: %v has more than %v decimals", name, fmtNY(at), v, math.Log10(p.scale))
				}
			}
			if rt.Time > at || (IsOpen(at) && at-rt.Time >= tickNS) {
				t.Fatalf("%s at %s: rate of %s", name, fmtNY(at), fmtNY(rt.Time))
			}
		}
	}
	// Quoting precision by convention.
	for name, want := range map[string]float64{"EURUSD": 1e5, "USDCHF": 1e5, "USDJPY": 1e3, "EURJPY": 1e3, "USDMXN": 1e4, "JPYUSD": 1e7} {
		if s := mustPair(name).scale; s != want {
			t.Errorf("%s quotes to 1/%v, want 1/%v", name, s, want)
		}
	}
}

// TestCrosses checks that a cross is the product of its legs, and an
// inverse the reciprocal, within the spreads.
func TestCrosses(t *testing.T) {
	eurusd, usdjpy, eurjpy, jpyusd := mustPair("EURUSD"), mustPair("USDJPY"), mustPair("EURJPY"), mustPair("JPYUSD")
	for i := range 500 {
		at := ny("2024-03-04 00:00:00") + int64(i)*int64(7*time.Minute)
		if !IsOpen(at) {
			continue
		}
		a, b, c, inv := eurusd.At(at), usdjpy.At(at), eurjpy.At(at), jpyusd.At(at)
		if d := math.Abs(c.Mid/(a.Mid*b.Mid) - 1); d > 2e-4 {
			t.Fatalf("EURJPY %v vs EURUSD×USDJPY %v", c.Mid, a.Mid*b.Mid)
		}
		if d := math.Abs(inv.Mid*b.Mid - 1); d > 2e-4 {
			t.Fatalf("JPYUSD %v vs 1/USDJPY %v", inv.Mid, 1/b.Mid)
		}
	}
}

// TestWalk checks that the rate moves like a random walk of the currency's
// volatility: the spread of its one-minute and one-day log changes is
// within a factor of two of σ·√horizon, and consecutive minutes are not
// frozen.
func TestWalk(t *testing.T) {
	for _, tc := range []struct {
		name string
		vol  float64
	}{{"EURUSD", 0.075}, {"USDJPY", 0.10}, {"USDZAR", 0.16}} {
		p := mustPair(tc.name)
		check := func(horizon time.Duration, n int, from int64) {
			var sum, sum2 float64
			k := 0
			for i := range n {
				at := from + int64(i)*int64(horizon)
				if !IsOpen(at) || !IsOpen(at+int64(horizon)) {
					continue
				}
				x := math.Log(p.At(at+int64(horizon)).Mid / p.At(at).Mid)
				sum += x
				sum2 += x * x
				k++
			}
			sd := math.Sqrt(sum2/float64(k) - (sum/float64(k))*(sum/float64(k)))
			// The own and dollar components together: √(β² + 1 − β²) = 1.
			want := tc.vol * math.Sqrt(float64(horizon)/float64(365*24*time.Hour))
			if sd < want/2 || sd > 2*want {
				t.Errorf("%s: %v changes have sd %.6f, want about %.6f", tc.name, horizon, sd, want)
			}
		}
		check(time.Minute, 20_000, ny("2024-03-04 00:00:00"))
		check(24*time.Hour, 700, ny("2022-01-03 00:00:00"))
	}
}

// TestWeekend checks that rates freeze over the weekend at the last rate
// before the close, and that the spread widens at the Sunday open.
func TestWeekend(t *testing.T) {
	p := mustPair("USDJPY")
	last := p.At(ny("2024-03-08 16:59:59"))
	if got := time.Unix(0, last.Time).In(market.NewYork).Format("15:04:05"); got != "16:59:55" {
		t.Errorf("last tick at %s", got)
	}
	for _, at := range []string{"2024-03-08 17:00:00", "2024-03-09 12:00:00", "2024-03-10 16:59:59"} {
		if got := p.At(ny(at)); got != last {
			t.Errorf("At(%s) = %+v, want the close's %+v", at, got, last)
		}
	}
	if p.At(ny("2024-03-10 17:00:00")).Time != ny("2024-03-10 17:00:00") {
		t.Error("the Sunday open has no rate of its own")
	}
	var open, later float64
	for i := range 100 {
		o := p.At(ny("2024-03-10 17:00:00") + int64(i)*int64(30*time.Second))
		l := p.At(ny("2024-03-11 05:00:00") + int64(i)*int64(30*time.Second))
		open += o.Ask - o.Bid
		later += l.Ask - l.Bid
	}
	if open < 2*later {
		t.Errorf("Sunday open spread %v not wider than Monday's %v", open/100, later/100)
	}
}

func TestParseTimeframe(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"5Sec": 5 * time.Second, "5S": 5 * time.Second, "5sec": 5 * time.Second, "30S": 30 * time.Second,
		"1Min": time.Minute, "1T": time.Minute, "1min": time.Minute, "5Min": 5 * time.Minute, "15T": 15 * time.Minute,
		"1Hour": time.Hour, "1H": time.Hour, "4Hour": 4 * time.Hour, "1Day": 24 * time.Hour, "1D": 24 * time.Hour,
		"": 0, "1S": 0, "7Sec": 0, "60S": 0, "0S": 0, "100S": 0, "1Week": 0, "1W": 0, "1Month": 0, "1M": 0, "2Day": 0,
		"60Min": 0, "24H": 0, "Min": 0, "1": 0, "S": 0, "1Secs": 0, "5Sec ": 0,
	} {
		got, ok := ParseTimeframe(s)
		if ok != (want != 0) || got != want {
			t.Errorf("ParseTimeframe(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
}

func BenchmarkAt(b *testing.B) {
	p := mustPair("EURJPY")
	at := ny("2024-03-05 10:00:00")
	b.ReportAllocs()
	for i := range b.N {
		p.At(at + int64(i)*int64(time.Minute)%int64(48*time.Hour))
	}
}

// TestExpSeries: the series stands in for exp where the model uses it.
func TestExpSeries(t *testing.T) {
	prev := 0.0
	for x := -0.8; x <= 0.8; x += 0.001 {
		got := expSeries(x)
		if math.Abs(got/math.Exp(x)-1) > 1e-6 || got <= prev {
			t.Fatalf("expSeries(%v) = %v, exp %v, previous %v", x, got, math.Exp(x), prev)
		}
		prev = got
	}
	// And the model stays in its range: every currency's move is within
	// twice its volatility.
	for _, c := range currencies[1:] {
		for k := range int64(200_000) {
			k := k*7919 - 1e9
			if m := c.move(k); math.Abs(m) > 2*c.vol {
				t.Fatalf("%s at tick %d moved %v, volatility %v", c.code, k, m, c.vol)
			}
		}
	}
}
